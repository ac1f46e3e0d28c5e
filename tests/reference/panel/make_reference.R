# Reference numbers for tests/test_panel_reference.py, made by R plm on panel.csv.
#
#   cd tests/reference/panel && Rscript make_reference.R     # writes reference.json
#
# panel.csv is made by make_panel.py (seeded). Models: Liu–Ma 2021's nine (docs/panel.md) with
# controls npl, nim, loan_growth; rows with a missing value are dropped by R's na.omit,
# as the Python side does (and records). For each model:
#   fe_coef      plm(model = "within") slopes
#   se_sss       vcovHC(method = "arellano", cluster = "group", type = "sss")
#   se_hc0       the same with type = "HC0"
#   p_sss        lmtest::coeftest(fe, vcov = <sss>) p-values (t with df.residual(fe))
#   se_white1    vcovHC(method = "white1", type = "HC0")
#   se_scc2      vcovSCC(type = "HC0", maxlag = 2)  (Driscoll-Kraay, Bartlett weights)
#   se_fe_plain  sqrt(diag(vcov(fe)))  (conventional; the FE side of phtest)
#   re_coef, se_re_plain, sigma2_idios, sigma2_id:  plm(model = "random", random.method = "swar")
#   phtest_stat, phtest_p, phtest_df:  phtest(fe, re)   (note: phtest reports abs(H))
#   hausman_sigmaless / hausman_sigmamore: d' (V_FE - V_RE)^-1 d with both covariances
#                based on the FE / the RE residual variance (deviance / df.residual),
#                Stata's hausman options sigmaless / sigmamore, computed here by hand
#   r2, nobs, groups, df_residual
# Plus "m1_twoways": plm(model = "within", effect = "twoways") slopes of model 1 and their
# arellano/group HC0 standard errors.
suppressMessages({library(plm); library(sandwich); library(lmtest); library(jsonlite)})

d <- read.csv("panel.csv", na.strings = "NA")
p <- pdata.frame(d, index = c("bank_id", "year"))
controls <- "npl + nim + loan_growth"
models <- list(
  m1 = "car * lcr", m2 = "car * ldr", m3 = "car * liq",
  m4 = "lev * lcr", m5 = "lev * ldr", m6 = "lev * liq",
  m7 = "car", m8 = "lev", m9 = "lcr"
)
named <- function(x) as.list(setNames(as.numeric(x), names(x)))
se <- function(v) sqrt(diag(v))
out <- list(
  generator = paste0("R ", R.version$major, ".", R.version$minor, " plm ", packageVersion("plm"),
                    " sandwich ", packageVersion("sandwich"), " lmtest ", packageVersion("lmtest")),
  models = list()
)
for (name in names(models)) {
  f <- as.formula(paste("crw ~", models[[name]], "+", controls))
  fe <- plm(f, data = p, model = "within")
  re <- plm(f, data = p, model = "random", random.method = "swar")
  v_sss <- vcovHC(fe, method = "arellano", cluster = "group", type = "sss")
  ht <- phtest(fe, re)
  ec <- ercomp(re)
  cf <- names(coef(fe))
  db <- coef(fe)[cf] - coef(re)[cf]
  s2fe <- deviance(fe) / df.residual(fe)
  s2re <- deviance(re) / df.residual(re)
  h_less <- drop(t(db) %*% solve(vcov(fe)[cf, cf] - vcov(re)[cf, cf] * s2fe / s2re) %*% db)
  h_more <- drop(t(db) %*% solve(vcov(fe)[cf, cf] * s2re / s2fe - vcov(re)[cf, cf]) %*% db)
  out$models[[name]] <- list(
    fe_coef = named(coef(fe)),
    se_sss = named(se(v_sss)),
    se_hc0 = named(se(vcovHC(fe, method = "arellano", cluster = "group", type = "HC0"))),
    p_sss = named(coeftest(fe, vcov. = v_sss)[, 4]),
    se_white1 = named(se(vcovHC(fe, method = "white1", type = "HC0"))),
    se_scc2 = named(se(vcovSCC(fe, type = "HC0", maxlag = 2))),
    se_fe_plain = named(se(vcov(fe))),
    re_coef = named(coef(re)),
    se_re_plain = named(se(vcov(re))),
    sigma2_idios = unname(ec$sigma2["idios"]),
    sigma2_id = unname(ec$sigma2["id"]),
    phtest_stat = unname(ht$statistic),
    phtest_p = unname(ht$p.value),
    phtest_df = unname(ht$parameter),
    hausman_sigmaless = h_less,
    hausman_sigmamore = h_more,
    r2 = unname(summary(fe)$r.squared["rsq"]),
    nobs = nobs(fe),
    groups = pdim(fe)$nT$n,
    df_residual = df.residual(fe)
  )
}
tw <- plm(crw ~ car * lcr + npl + nim + loan_growth, data = p, model = "within", effect = "twoways")
out$models$m1_twoways <- list(
  fe_coef = named(coef(tw)),
  se_hc0 = named(se(vcovHC(tw, method = "arellano", cluster = "group", type = "HC0"))),
  nobs = nobs(tw), groups = pdim(tw)$nT$n, periods = pdim(tw)$nT$T
)
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = TRUE), "reference.json")
cat("wrote reference.json\n")
