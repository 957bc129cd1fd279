# Reference numbers for the pooled-proportion tests, computed with R's metafor.
# Usage: Rscript scripts/metafor_reference.R   (needs r-cran-metafor and r-cran-lme4)
# Writes tests/fixtures/metafor/reference.csv; the test suite compares carte_evidence.stats
# against it to 3 decimals, so the suite itself does not need R.
suppressPackageStartupMessages(library(metafor))

datasets <- list(
  mixed      = list(k = c(5, 3, 8, 1, 0),        n = c(5, 6, 10, 4, 3)),
  zeros      = list(k = c(0, 0, 1, 0, 2, 0),     n = c(8, 15, 12, 5, 20, 3)),
  all_events = list(k = c(6, 4, 10, 12, 3),      n = c(6, 4, 11, 12, 3)),
  homogeneous= list(k = c(10, 13, 8, 11),        n = c(20, 24, 18, 22)),
  two        = list(k = c(7, 2),                 n = c(10, 9)),
  large      = list(k = c(15, 30, 4, 22, 9, 40, 2), n = c(20, 60, 15, 25, 30, 50, 12))
)

rows <- list()
for (name in names(datasets)) {
  d <- datasets[[name]]
  es <- escalc(measure = "PLO", xi = d$k, ni = d$n)
  iv <- rma(yi, vi, data = es, method = "REML")
  piv <- predict(iv)
  gl <- tryCatch(rma.glmm(measure = "PLO", xi = d$k, ni = d$n), error = function(e) NULL)
  fits <- list(list("REML", iv, piv))
  if (is.null(gl)) cat(sprintf("%s: rma.glmm cannot fit the ML model\n", name)) else fits[[2]] <- list("GLMM", gl, predict(gl))
  for (m in fits) {
    fit <- m[[2]]; p <- m[[3]]
    rows[[length(rows) + 1]] <- data.frame(
      dataset = name, method = m[[1]],
      events = paste(d$k, collapse = " "), total = paste(d$n, collapse = " "),
      logit = as.numeric(fit$beta), logit_se = fit$se,
      ci_lower = plogis(fit$ci.lb), ci_upper = plogis(fit$ci.ub),
      pi_lower = plogis(p$pi.lb), pi_upper = plogis(p$pi.ub),
      tau2 = fit$tau2, i2 = fit$I2
    )
  }
}
out <- do.call(rbind, rows)
write.csv(out, "tests/fixtures/metafor/reference.csv", row.names = FALSE)
cat(sprintf("metafor %s\n", packageVersion("metafor")))
