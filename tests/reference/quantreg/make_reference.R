# Reference numbers for tests/test_quantreg.py from R quantreg's exact simplex rq(method = "br").
#
# Usage (from the repository root):
#   Rscript tests/reference/quantreg/make_reference.R <us-financials data dir> [output dir]
# e.g. Rscript tests/reference/quantreg/make_reference.R ../shared/data/us-financials tests/reference/quantreg
#
# Writes into the output directory (default: the current directory):
#   synthetic.csv   inputs of the synthetic cases (seeded; 17 significant digits, exact round trip)
#   reference.json  coefficients, check losses and rq's non-uniqueness warnings for
#                   (a) synthetic n = 120, p = 7, q in {0.05, 0.5, 0.95, 0.99};
#                   (b) synthetic rolling: 50 windows of 120 rows, step 1, same q;
#                   (c) real data: JPM daily loss (-diff(log price)) on a constant and the 9 lagged
#                       state variables, full sample and 50 rolling windows of 120 rows (step 1)
#                       starting at loss row 1650 (2008), same q.
# The real data are not stored: the tests rebuild the design from ../shared/data.
suppressPackageStartupMessages(library(quantreg))
library(jsonlite)

args <- commandArgs(trailingOnly = TRUE)
if (length(args) < 1) stop("usage: Rscript make_reference.R <us-financials data dir> [output dir]")
data_dir <- args[1]
out_dir <- if (length(args) >= 2) args[2] else "."

taus <- c(0.05, 0.5, 0.95, 0.99)
rho <- function(u, tau) sum(u * (tau - (u < 0)))

fit <- function(y, X, tau) {
  nonunique <- FALSE
  f <- withCallingHandlers(
    rq.fit(X, y, tau = tau, method = "br"),
    warning = function(w) {
      if (grepl("nonunique", conditionMessage(w))) nonunique <<- TRUE
      invokeRestart("muffleWarning")
    }
  )
  b <- as.numeric(f$coefficients)
  list(coef = b, loss = rho(y - X %*% b, tau), nonunique = nonunique)
}

rolling <- function(y, X, tau, first, window, count) {
  fits <- lapply(seq_len(count) - 1, function(k) {
    rows <- (first + k):(first + k + window - 1)
    fit(y[rows], X[rows, , drop = FALSE], tau)
  })
  list(
    coef = t(sapply(fits, `[[`, "coef")),
    loss = sapply(fits, `[[`, "loss"),
    nonunique = sapply(fits, `[[`, "nonunique")
  )
}

# ---- synthetic inputs: 169 rows (a uses rows 1..120; b uses 50 windows of 120) -------------
set.seed(20261122)
N <- 169; p <- 7
Z <- matrix(rnorm(N * (p - 1)), N, p - 1)
X <- cbind(1, Z)
beta <- c(0.5, 1, -1, 0.5, 0.25, -0.25, 2)
y <- as.numeric(X %*% beta + (1 + 0.5 * abs(Z[, 1])) * rt(N, df = 4))
syn <- data.frame(y = y, Z)
names(syn) <- c("y", paste0("x", 1:(p - 1)))
fmt <- as.data.frame(lapply(syn, function(v) formatC(v, digits = 17, format = "g")))
write.csv(fmt, file.path(out_dir, "synthetic.csv"), row.names = FALSE, quote = FALSE)

single <- list(); roll <- list()
for (tau in taus) {
  key <- format(tau)
  single[[key]] <- fit(y[1:120], X[1:120, ], tau)
  roll[[key]] <- rolling(y, X, tau, 1, 120, 50)
}

# ---- real data: JPM loss on lagged state variables ---------------------------------------
sv <- read.csv(file.path(data_dir, "Example_Large__State_Variables.csv"), check.names = FALSE)
sh <- read.csv(file.path(data_dir, "Example_Large__Shares.csv"), check.names = FALSE)
loss <- -diff(log(sh[["JPM"]]))
M <- as.matrix(sv[seq_len(nrow(sv) - 1), -1])  # state variables of day t-1 for the loss of day t
XR <- cbind(1, M)
real_full <- list(); real_roll <- list()
for (tau in taus) {
  key <- format(tau)
  real_full[[key]] <- fit(loss, XR, tau)
  real_roll[[key]] <- rolling(loss, XR, tau, 1651, 120, 50)  # 1-based row 1651 = 0-based 1650
}

out <- list(
  generator = "R quantreg rq.fit(method = 'br')",
  quantreg_version = as.character(packageVersion("quantreg")),
  r_version = R.version.string,
  taus = taus,
  synthetic = list(n = 120, p = p, beta = beta, single = single,
                   rolling = list(window = 120, step = 1, first = 0, count = 50, fits = roll)),
  real = list(firm = "JPM", regressors = c("const", colnames(M)), lag = 1, n = length(loss),
              full = real_full,
              rolling = list(window = 120, step = 1, first = 1650, count = 50, fits = real_roll))
)
writeLines(toJSON(out, digits = I(17), auto_unbox = TRUE, pretty = FALSE), file.path(out_dir, "reference.json"))
cat("wrote", file.path(out_dir, "reference.json"), "\n")
