# Reference standard errors for tests/test_quantreg_inference.py from R quantreg's summary.rq.
#
# How to run (from the repository root; the real-data extract goes to a temporary folder, never
# into the repository):
#   dir=$(mktemp -d)
#   PYTHONPATH=. python tests/reference/quantreg_se/real_extract.py ../shared/data "$dir"
#   Rscript tests/reference/quantreg_se/make_reference.R "$dir" tests/reference/quantreg_se
#
# Reads  <output dir>/synthetic.csv (written by this script, seeded, when absent; committed) and
#        <extract dir>/real_<firm>.csv (y = system loss, bank_loss, the lagged state variables).
# Writes <output dir>/reference.json: for every case and tau, the rq(method = "br") coefficients,
#        rq's non-uniqueness warning, the Hall-Sheather bandwidth bandwidth.rq(tau, n, hs = TRUE),
#        the bandwidth summary.rq uses for nid/ker (halved until tau +- h lies in [0, 1]) and the
#        standard errors summary.rq(fit, se = "iid" | "nid" | "ker").
#   (a) synthetic heteroskedastic model y = 1 + x1 - x2 + 0.5 x3 + (1 + 0.5 |x1|) t_4, the first
#       n = 60, 150, 400 rows, tau in {0.05, 0.5, 0.9, 0.99};
#   (b) us-financials ΔCoVaR system regressions, full sample: the system loss on a constant and
#       the bank loss ("simple") and also the lagged state variables ("states"), tau in {0.5, 0.95, 0.99}.
suppressPackageStartupMessages(library(quantreg))
library(jsonlite)

args <- commandArgs(trailingOnly = TRUE)
if (length(args) < 1) stop("usage: Rscript make_reference.R <real-data extract dir> [output dir]")
extract_dir <- args[1]
out_dir <- if (length(args) >= 2) args[2] else "."

inner_bandwidth <- function(tau, n) {  # as in summary.rq for se = "nid" and "ker"
  h <- bandwidth.rq(tau, n, hs = TRUE)
  while ((tau - h < 0) || (tau + h > 1)) h <- h / 2
  h
}

muffled <- function(expr, pattern) {  # value and whether a warning matching pattern was raised
  hit <- FALSE
  value <- withCallingHandlers(expr, warning = function(w) {
    if (grepl(pattern, conditionMessage(w))) hit <<- TRUE
    invokeRestart("muffleWarning")
  })
  list(value = value, hit = hit)
}

case <- function(y, X, tau) {
  n <- length(y)
  f <- muffled(rq(y ~ X - 1, tau = tau, method = "br"), "nonunique")
  fit <- f$value
  se <- list(); errors <- list()
  nonpositive <- FALSE
  for (m in c("iid", "nid", "ker")) {
    s <- tryCatch(muffled(summary(fit, se = m), "non-positive"), error = function(e) conditionMessage(e))
    if (is.character(s)) { errors[[m]] <- s; next }  # e.g. nid with every fitted density 0: singular
    if (s$hit) nonpositive <- TRUE
    se[[m]] <- as.numeric(s$value$coefficients[, 2])
  }
  list(n = n, p = ncol(X), coef = as.numeric(coef(fit)), nonunique = f$hit,
       bandwidth = bandwidth.rq(tau, n, hs = TRUE), inner_bandwidth = inner_bandwidth(tau, n),
       nonpositive_fis = nonpositive, se = se, errors = errors)
}

# ---- (a) synthetic -------------------------------------------------------------------------
syn_file <- file.path(out_dir, "synthetic.csv")
if (!file.exists(syn_file)) {
  set.seed(20261201)
  N <- 400
  Z <- matrix(rnorm(N * 3), N, 3)
  y <- as.numeric(cbind(1, Z) %*% c(1, 1, -1, 0.5) + (1 + 0.5 * abs(Z[, 1])) * rt(N, df = 4))
  syn <- data.frame(y = y, x1 = Z[, 1], x2 = Z[, 2], x3 = Z[, 3])
  fmt <- as.data.frame(lapply(syn, function(v) formatC(v, digits = 17, format = "g")))
  write.csv(fmt, syn_file, row.names = FALSE, quote = FALSE)
}
syn <- read.csv(syn_file)
synthetic <- list()
for (n in c(60, 150, 400)) {
  for (tau in c(0.05, 0.5, 0.9, 0.99)) {
    X <- cbind(1, as.matrix(syn[1:n, -1]))
    synthetic[[paste0("n", n, "_q", format(tau))]] <- c(list(tau = tau), case(syn$y[1:n], X, tau))
  }
}

# ---- (b) real data ---------------------------------------------------------------------------
real <- list()
for (firm in c("JPM", "BAC", "GS", "AIG")) {
  d <- read.csv(file.path(extract_dir, paste0("real_", firm, ".csv")), check.names = FALSE)
  designs <- list(simple = cbind(1, d$bank_loss), states = cbind(1, as.matrix(d[, -1])))
  for (kind in names(designs)) {
    for (tau in c(0.5, 0.95, 0.99)) {
      key <- paste0(firm, "_", kind, "_q", format(tau))
      real[[key]] <- c(list(firm = firm, design = kind, tau = tau), case(d$y, designs[[kind]], tau))
    }
  }
}

out <- list(
  generator = "R quantreg summary.rq(rq(y ~ X - 1, tau, method = 'br'), se = 'iid' | 'nid' | 'ker'), hs = TRUE",
  quantreg_version = as.character(packageVersion("quantreg")),
  r_version = R.version.string,
  synthetic = synthetic,
  real = real
)
writeLines(toJSON(out, digits = I(17), auto_unbox = TRUE, pretty = TRUE), file.path(out_dir, "reference.json"))
cat("wrote", file.path(out_dir, "reference.json"), "\n")
