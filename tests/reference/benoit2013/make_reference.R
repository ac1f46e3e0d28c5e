# Reference numbers for tests/test_benoit2013.py, from R (quantreg, readxl, jsonlite).
# Usage (from the repository root):
#   Rscript tests/reference/benoit2013/make_reference.R ../shared/data/benoit-rmc/Data_RMC.xls
# Writes tests/reference/benoit2013/reference.json. The data file itself is never copied.
suppressPackageStartupMessages({
  library(readxl)
  library(quantreg)
  library(jsonlite)
})
args <- commandArgs(trailingOnly = TRUE)
path <- if (length(args) >= 1) args[1] else "../shared/data/benoit-rmc/Data_RMC.xls"
# the file is an Excel 2007+ (xlsx) workbook despite its .xls name
d <- as.data.frame(read_xlsx(path, sheet = "Feuil1"))
xm <- d$index - mean(d$index)   # demeaned market return
xi <- d$asset - mean(d$asset)   # demeaned firm return
alpha <- 0.05
fit_qr <- rq(xm ~ xi, tau = alpha, method = "br")
fit_ols <- lm(xm ~ 0 + xi)
out <- list(
  source = "Data_RMC.xls (Feuil1), companion data of Benoit, Colletaz, Hurlin & Perignon (2013)",
  produced_by = "tests/reference/benoit2013/make_reference.R",
  r_version = R.version.string,
  quantreg_version = as.character(packageVersion("quantreg")),
  nobs = nrow(d),
  gamma_qr = unname(coef(fit_qr)[2]),
  intercept_qr = unname(coef(fit_qr)[1]),
  gamma_ols = unname(coef(fit_ols)[1]),
  market_var_hazen = unname(quantile(xm, alpha, type = 5)),
  firm_median = median(xi)
)
write_json(out, file.path("tests", "reference", "benoit2013", "reference.json"), digits = NA, auto_unbox = TRUE, pretty = TRUE)
