# Reference numbers for the pooled-proportion tests, computed with R's metafor.
# Usage: python scripts/pooled_datasets.py && Rscript scripts/metafor_reference.R
#   (needs Debian's r-cran-metafor and r-cran-lme4)
# Reads tests/fixtures/metafor/datasets.csv (fixtures and every pooled analysis the package
# reports) and writes tests/fixtures/metafor/reference.csv; the test suite compares
# carte_evidence.analysis.stats against it to 3 decimals, so the suite itself does not need R.
suppressPackageStartupMessages(library(metafor))

datasets <- read.csv("tests/fixtures/metafor/datasets.csv", stringsAsFactors = FALSE)
rows <- list()
for (i in seq_len(nrow(datasets))) {
  name <- datasets$dataset[i]
  k <- as.numeric(strsplit(datasets$events[i], " ")[[1]])
  n <- as.numeric(strsplit(datasets$total[i], " ")[[1]])
  es <- escalc(measure = "PLO", xi = k, ni = n)
  fits <- list()
  iv <- tryCatch(rma(yi, vi, data = es, method = "REML"), error = function(e) NULL)
  if (!is.null(iv)) fits[["REML"]] <- list(iv, predict(iv))
  gl <- tryCatch(suppressWarnings(rma.glmm(measure = "PLO", xi = k, ni = n)), error = function(e) NULL)
  if (is.null(gl)) cat(sprintf("%s: rma.glmm cannot fit the ML model\n", name)) else fits[["GLMM"]] <- list(gl, predict(gl))
  for (m in names(fits)) {
    fit <- fits[[m]][[1]]; p <- fits[[m]][[2]]
    rows[[length(rows) + 1]] <- data.frame(
      dataset = name, method = m, events = datasets$events[i], total = datasets$total[i],
      logit = as.numeric(fit$beta), logit_se = fit$se,
      ci_lower = plogis(fit$ci.lb), ci_upper = plogis(fit$ci.ub),
      pi_lower = plogis(p$pi.lb), pi_upper = plogis(p$pi.ub),
      tau2 = fit$tau2, i2 = fit$I2
    )
  }
}
out <- do.call(rbind, rows)
write.csv(out, "tests/fixtures/metafor/reference.csv", row.names = FALSE)
cat(sprintf("metafor %s, %d datasets, %d fits\n", packageVersion("metafor"), nrow(datasets), nrow(out)))
