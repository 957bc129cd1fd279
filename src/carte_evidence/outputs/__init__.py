"""What is written for people: standard tables and figures, exports, the release build."""
