# Reference p-values for measures.contagion.granger_pvalues(mode="pairwise", lags=p):
# R lmtest::grangertest (single-equation F test of "x Granger-causes y") for every ordered
# pair of three simulated series (series a leads b), at lag orders 1, 2 and 3.
# Run from this directory:  Rscript make_reference.R   (writes reference.json)
suppressPackageStartupMessages({library(lmtest); library(jsonlite)})
set.seed(20261122)
n <- 220
e <- matrix(rnorm(3 * n), n, 3)
y <- matrix(0, n, 3)
for (t in 2:n) {
  y[t, 1] <- 0.3 * y[t - 1, 1] + e[t, 1]
  y[t, 2] <- 0.2 * y[t - 1, 2] + 0.35 * y[t - 1, 1] + e[t, 2]
  y[t, 3] <- 0.1 * y[t - 1, 3] + 0.05 * y[t - 1, 2] + e[t, 3]
}
y <- y[21:n, ]  # drop burn-in
colnames(y) <- c("a", "b", "c")
y <- signif(y, 15)  # what jsonlite writes (15 significant digits): the tests read exactly these numbers
out <- list(series = as.data.frame(y), tests = list(),
            producer = paste("R", getRversion(), "lmtest", packageVersion("lmtest")))
for (p in 1:3) for (i in 1:3) for (j in 1:3) if (i != j) {
  g <- grangertest(y[, i], y[, j], order = p)  # column i Granger-causes column j
  out$tests[[length(out$tests) + 1]] <- list(lags = p, source = colnames(y)[i], target = colnames(y)[j],
                                             F = g$F[2], df_denom = g$Res.Df[1], p_value = g$`Pr(>F)`[2])
}
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = TRUE), "reference.json")
