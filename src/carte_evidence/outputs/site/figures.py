"""Forest plots as inline SVG (no image files: light pages, text a screen reader can reach)."""

from __future__ import annotations

from markupsafe import Markup, escape

WIDTH, LABEL_W, PLOT_W, ROW_H, TOP = 640, 230, 300, 24, 28


def _x(p: float) -> float:
    return LABEL_W + p * PLOT_W


def alt_text(title: str, rows: list[dict]) -> str:
    """One-sentence description of a forest plot, for people who cannot see it."""
    props = [r["events"] / r["n"] for r in rows if r["n"]]
    k = len(rows)
    span = f"from {min(props):.0%} to {max(props):.0%}" if k > 1 else f"{props[0]:.0%}" if props else "not available"
    return f"Forest plot of {title}: {k} {'study' if k == 1 else 'studies'}, proportion of patients {span}; each study's numbers are in the table that follows."


def forest_svg(fig_id: str, title: str, rows: list[dict]) -> Markup:
    """SVG forest plot: one line per study (proportion and exact 95% CI). ``rows``: label, events, n,
    ci_low, ci_high."""
    height = TOP + ROW_H * len(rows) + 36
    out = [
        f'<svg viewBox="0 0 {WIDTH} {height}" role="img" aria-labelledby="{fig_id}-t {fig_id}-d" class="forest" xmlns="http://www.w3.org/2000/svg">',
        f'<title id="{fig_id}-t">{escape(title)}</title><desc id="{fig_id}-d">{escape(alt_text(title, rows))}</desc>',
    ]
    bottom = TOP + ROW_H * len(rows)
    for tick in (0, 0.25, 0.5, 0.75, 1):
        x = _x(tick)
        out.append(f'<line x1="{x:.1f}" y1="{TOP - 8}" x2="{x:.1f}" y2="{bottom}" stroke="#d0d0d0"/>')
        out.append(f'<text x="{x:.1f}" y="{bottom + 16}" text-anchor="middle" font-size="12" fill="#333">{tick:.0%}</text>')
    out.append(f'<text x="{_x(0.5):.1f}" y="{bottom + 32}" text-anchor="middle" font-size="12" fill="#333">proportion of patients (95% CI)</text>')
    for i, r in enumerate(rows):
        y = TOP + ROW_H * i + ROW_H / 2
        label = r["label"] if len(r["label"]) <= 30 else r["label"][:29] + "…"
        out.append(f'<text x="4" y="{y + 4:.1f}" font-size="12" fill="#1a1a1a">{escape(label)}</text>')
        if r["n"]:
            p = r["events"] / r["n"]
            out.append(f'<line x1="{_x(r["ci_low"]):.1f}" y1="{y:.1f}" x2="{_x(r["ci_high"]):.1f}" y2="{y:.1f}" stroke="#1a1a1a" stroke-width="1.5"/>')
            out.append(f'<rect x="{_x(p) - 4:.1f}" y="{y - 4:.1f}" width="8" height="8" fill="#1f4e9c"/>')
        out.append(f'<text x="{WIDTH - 4}" y="{y + 4:.1f}" text-anchor="end" font-size="12" fill="#1a1a1a">{r["events"]}/{r["n"]}</text>')
    out.append("</svg>")
    return Markup("\n".join(out))
