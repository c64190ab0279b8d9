//! The paper's evaluation protocol (`scripts/reg_LassoCV.py` of ziul-bio/SWAT): min-max scale the
//! features, split the rows with `KFold(5, shuffle=True, random_state=42)`, fit `LassoCV` on each
//! training part and report R², MAE, RMSE and Spearman ρ on train and test, the number of nonzero
//! coefficients and the chosen alpha. Beyond the paper: scaling inside each training fold,
//! ProteinGym's position-based fold schemes, and OLS / ridge baselines.

use ndarray::{Array1, ArrayView1, ArrayView2, Axis};

use crate::baseline::{self, Linear};
use crate::error::{Error, Result};
use crate::kfold::{self, Split};
use crate::lasso::{LassoCvParams, check_xy};
use crate::metrics;
use crate::scale::MinMaxScaler;

/// Solver settings of the paper.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub enum Preset {
    /// What the published script runs: `LassoCV(max_iter=1000, tol=1e-2)`. The default.
    #[default]
    Published,
    /// What the paper's README describes: `max_iter=10000, tol=1e-5`.
    Readme,
}

/// Where the min-max scaler is fitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub enum Scaling {
    /// On all rows before splitting, as the paper does (test rows leak into the scaling). Default.
    #[default]
    All,
    /// On each training part only; test rows are transformed with it.
    Inside,
    /// No scaling.
    None,
}

/// How rows are assigned to outer folds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub enum FoldScheme {
    /// `KFold(folds, shuffle=True, random_state=seed)`, the paper's split. Default.
    #[default]
    Random,
    /// ProteinGym `fold_modulo`: the sorted distinct mutated positions dealt to the folds in turn.
    /// Needs positions.
    Modulo,
    /// ProteinGym `fold_contiguous`: the sorted distinct mutated positions cut into `folds`
    /// consecutive segments. Needs positions.
    Contiguous,
    /// The folds given per row, as a fold label (ProteinGym's `fold_random_5`, `fold_modulo_5`,
    /// `fold_contiguous_5` columns): one outer fold per distinct label, in label order. `folds` does not apply.
    Given,
}

/// Which regressor is evaluated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub enum Model {
    /// `LassoCV`, the paper's model. Default.
    #[default]
    LassoCv,
    /// Ordinary least squares.
    Ols,
    /// Ridge with penalty `ridge_alpha`.
    Ridge,
}

/// All settings of one protocol run. `Default` is the published paper protocol.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ProtocolOptions {
    /// Preset the solver settings came from. Default [`Preset::Published`].
    pub preset: Preset,
    /// Outer folds. Default 5.
    pub folds: usize,
    /// Seed of the outer shuffle (numpy `RandomState`). Default 42.
    pub seed: u32,
    /// Duality-gap tolerance of coordinate descent. Default 1e-2 (published), 1e-5 (readme).
    pub tol: f64,
    /// Maximum passes per alpha. Default 1000 (published), 10000 (readme).
    pub max_iter: usize,
    /// `alpha_min / alpha_max`. Default 1e-3.
    pub eps: f64,
    /// Number of alphas. Default 100.
    pub n_alphas: usize,
    /// Inner `LassoCV` folds. Default 5.
    pub inner_cv: usize,
    /// Where the scaler is fitted. Default [`Scaling::All`].
    pub scaling: Scaling,
    /// Outer fold scheme. Default [`FoldScheme::Random`].
    pub scheme: FoldScheme,
    /// Regressor. Default [`Model::LassoCv`].
    pub model: Model,
    /// Ridge penalty (scikit-learn `Ridge(alpha)` scale). Default 1.0.
    pub ridge_alpha: f64,
    /// Threads for the inner folds; 0 = all cores. Default 0.
    pub threads: usize,
}

impl Default for ProtocolOptions {
    fn default() -> Self {
        Self::preset(Preset::Published)
    }
}

const KNOWN: &str = "preset, folds, seed, tol, max_iter, eps, n_alphas, inner_cv, scale, scheme, \
                     model, ridge_alpha, threads";

impl ProtocolOptions {
    /// The options of a preset, everything else at its default.
    pub fn preset(preset: Preset) -> Self {
        let (tol, max_iter) = match preset {
            Preset::Published => (1e-2, 1000),
            Preset::Readme => (1e-5, 10_000),
        };
        ProtocolOptions {
            preset,
            folds: 5,
            seed: 42,
            tol,
            max_iter,
            eps: 1e-3,
            n_alphas: 100,
            inner_cv: 5,
            scaling: Scaling::All,
            scheme: FoldScheme::Random,
            model: Model::LassoCv,
            ridge_alpha: 1.0,
            threads: 0,
        }
    }

    /// Parses `'preset=readme, folds=5, tol=1e-5, scale=inside, scheme=modulo'`. The preset is
    /// applied first wherever it appears; the other keys override it. Keys and values are
    /// case-insensitive; an empty string gives the defaults.
    pub fn parse(text: &str) -> Result<Self> {
        let mut pairs = Vec::new();
        for item in text.split([',', ';']).map(str::trim).filter(|s| !s.is_empty()) {
            let Some((k, v)) = item.split_once('=') else {
                return Err(Error::InvalidOption {
                    key: item.to_string(),
                    value: String::new(),
                    reason: "expected key=value".into(),
                });
            };
            let (k, v) = (k.trim().to_ascii_lowercase(), v.trim().to_string());
            if pairs.iter().any(|(seen, _): &(String, String)| *seen == k) {
                return Err(Error::InvalidOption { key: k, value: v, reason: "given twice".into() });
            }
            pairs.push((k, v));
        }
        let mut o = match pairs.iter().find(|(k, _)| k == "preset") {
            Some((_, v)) => match v.to_ascii_lowercase().as_str() {
                "published" | "paper" => Self::preset(Preset::Published),
                "readme" => Self::preset(Preset::Readme),
                _ => return Err(bad("preset", v, "expected published or readme")),
            },
            None => Self::default(),
        };
        for (k, v) in &pairs {
            let lv = v.to_ascii_lowercase();
            match k.as_str() {
                "preset" => {}
                "folds" => o.folds = int(k, v, 2)?,
                "seed" => o.seed = v.parse().map_err(|_| bad(k, v, "expected 0 ≤ seed < 2^32"))?,
                "tol" => o.tol = float(k, v, false)?,
                "max_iter" => o.max_iter = int(k, v, 1)?,
                "eps" => o.eps = float(k, v, true)?,
                "n_alphas" => o.n_alphas = int(k, v, 1)?,
                "inner_cv" | "cv" => o.inner_cv = int(k, v, 2)?,
                "span" => {
                    return Err(bad(
                        k,
                        v,
                        "the contiguous scheme has no span: it cuts the distinct mutated positions into `folds` \
                         consecutive segments, as ProteinGym's fold_contiguous does",
                    ));
                }
                "threads" => o.threads = int(k, v, 0)?,
                "ridge_alpha" => o.ridge_alpha = float(k, v, false)?,
                "scale" | "scaling" => {
                    o.scaling = match lv.as_str() {
                        "all" | "global" | "paper" => Scaling::All,
                        "inside" | "fold" => Scaling::Inside,
                        "none" | "off" => Scaling::None,
                        _ => return Err(bad(k, v, "expected all, inside or none")),
                    }
                }
                "scheme" => {
                    o.scheme = match lv.as_str() {
                        "random" => FoldScheme::Random,
                        "modulo" => FoldScheme::Modulo,
                        "contiguous" => FoldScheme::Contiguous,
                        "given" => FoldScheme::Given,
                        _ => return Err(bad(k, v, "expected random, modulo, contiguous or given")),
                    }
                }
                "model" => {
                    o.model = match lv.as_str() {
                        "lasso" | "lassocv" | "lasso_cv" => Model::LassoCv,
                        "ols" | "linear" => Model::Ols,
                        "ridge" => Model::Ridge,
                        _ => return Err(bad(k, v, "expected lasso, ols or ridge")),
                    }
                }
                _ => return Err(Error::UnknownOption { key: k.clone(), known: KNOWN }),
            }
        }
        Ok(o)
    }

    /// The `LassoCV` settings these options imply.
    pub fn lasso_params(&self) -> LassoCvParams {
        LassoCvParams {
            eps: self.eps,
            n_alphas: self.n_alphas,
            cv: self.inner_cv,
            max_iter: self.max_iter,
            tol: self.tol,
            n_threads: self.threads,
            ..LassoCvParams::default()
        }
    }
}

fn bad(key: &str, value: &str, reason: &str) -> Error {
    Error::InvalidOption { key: key.into(), value: value.into(), reason: reason.into() }
}

fn int(key: &str, value: &str, min: usize) -> Result<usize> {
    match value.parse::<usize>() {
        Ok(v) if v >= min => Ok(v),
        _ => Err(bad(key, value, &format!("expected an integer ≥ {min}"))),
    }
}

fn float(key: &str, value: &str, positive: bool) -> Result<f64> {
    match value.parse::<f64>() {
        Ok(v) if v.is_finite() && (v > 0.0 || (!positive && v == 0.0)) => Ok(v),
        _ => Err(bad(key, value, if positive { "expected a number > 0" } else { "expected a number ≥ 0" })),
    }
}

/// Metrics of one outer fold (the columns of the paper's results table).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct FoldResult {
    /// Fold number, 1-based as in the paper.
    pub fold: usize,
    /// Row indices of the split.
    pub split: Split,
    /// R² on the training rows.
    pub r2_train: f64,
    /// MAE on the training rows.
    pub mae_train: f64,
    /// RMSE on the training rows.
    pub rmse_train: f64,
    /// Spearman ρ on the training rows (NaN for a constant prediction).
    pub rho_train: f64,
    /// R² on the test rows.
    pub r2_test: f64,
    /// MAE on the test rows.
    pub mae_test: f64,
    /// RMSE on the test rows.
    pub rmse_test: f64,
    /// Spearman ρ on the test rows (NaN for a constant prediction).
    pub rho_test: f64,
    /// Nonzero coefficients.
    pub n_nonzero: usize,
    /// Chosen (LassoCV) or fixed (ridge) penalty; 0 for OLS.
    pub alpha: f64,
    /// The fitted model, on the (scaled) features.
    pub model: Linear,
}

/// The outcome of [`evaluate`].
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ProtocolResult {
    /// Per-fold results, in fold order.
    pub folds: Vec<FoldResult>,
    /// The options used.
    pub options: ProtocolOptions,
}

impl ProtocolResult {
    /// Mean test R² over folds (the paper's headline number).
    pub fn mean_r2_test(&self) -> f64 {
        self.folds.iter().map(|f| f.r2_test).sum::<f64>() / self.folds.len() as f64
    }
}

/// Runs the protocol on `x` `[n, p]` and `y` `[n]`. `positions` is a key per row that the position schemes
/// and the given folds need: the 1-based mutated position (see [`kfold::mutant_position`]) for modulo and
/// contiguous, the fold label for [`FoldScheme::Given`].
pub fn evaluate(
    x: ArrayView2<f64>,
    y: ArrayView1<f64>,
    positions: Option<&[i64]>,
    opts: &ProtocolOptions,
) -> Result<ProtocolResult> {
    check_xy(x, y)?;
    let n = x.nrows();
    if y.iter().all(|v| *v == y[0]) {
        return Err(Error::ConstantTarget { n, value: y[0] });
    }
    let splits = match opts.scheme {
        FoldScheme::Random => kfold::kfold(n, opts.folds, Some(opts.seed), "outer protocol folds")?,
        FoldScheme::Given => {
            let labels = positions.ok_or_else(|| bad("scheme", "given", "needs a fold label per row"))?;
            if labels.len() != n {
                return Err(Error::Shape(format!("{} fold labels for {n} rows", labels.len())));
            }
            kfold::given_folds(labels)?
        }
        FoldScheme::Modulo | FoldScheme::Contiguous => {
            let pos =
                positions.ok_or_else(|| bad("scheme", "modulo/contiguous", "needs a mutated position per row"))?;
            if pos.len() != n {
                return Err(Error::Shape(format!("{} positions for {n} rows", pos.len())));
            }
            match opts.scheme {
                FoldScheme::Modulo => kfold::modulo_folds(pos, opts.folds)?,
                _ => kfold::contiguous_folds(pos, opts.folds)?,
            }
        }
    };
    let x = match opts.scaling {
        Scaling::All => MinMaxScaler::fit(x).transform(x),
        Scaling::Inside | Scaling::None => x.to_owned(),
    };
    let params = opts.lasso_params();
    let mut folds = Vec::with_capacity(splits.len());
    for (k, split) in splits.into_iter().enumerate() {
        let mut x_train = x.select(Axis(0), &split.train);
        let mut x_test = x.select(Axis(0), &split.test);
        if opts.scaling == Scaling::Inside {
            let s = MinMaxScaler::fit(x_train.view());
            x_train = s.transform(x_train.view());
            x_test = s.transform(x_test.view());
        }
        let y_train: Array1<f64> = split.train.iter().map(|&i| y[i]).collect();
        let y_test: Array1<f64> = split.test.iter().map(|&i| y[i]).collect();
        let model = match opts.model {
            Model::LassoCv => {
                let m = params.fit_arrays(x_train.view(), y_train.view())?;
                Linear { coef: m.coef, intercept: m.intercept, alpha: m.alpha }
            }
            Model::Ols => baseline::ols(x_train.view(), y_train.view())?,
            Model::Ridge => baseline::ridge(x_train.view(), y_train.view(), opts.ridge_alpha)?,
        };
        let p_train = model.predict(x_train.view());
        let p_test = model.predict(x_test.view());
        let (yt, pt) = (y_train.as_slice().unwrap_or(&[]), p_train.as_slice().unwrap_or(&[]));
        let (ys, ps) = (y_test.as_slice().unwrap_or(&[]), p_test.as_slice().unwrap_or(&[]));
        folds.push(FoldResult {
            fold: k + 1,
            split,
            r2_train: metrics::r2(yt, pt),
            mae_train: metrics::mae(yt, pt),
            rmse_train: metrics::rmse(yt, pt),
            rho_train: metrics::spearman(yt, pt),
            r2_test: metrics::r2(ys, ps),
            mae_test: metrics::mae(ys, ps),
            rmse_test: metrics::rmse(ys, ps),
            rho_test: metrics::spearman(ys, ps),
            n_nonzero: model.coef.iter().filter(|c| **c != 0.0).count(),
            alpha: model.alpha,
            model,
        });
    }
    Ok(ProtocolResult { folds, options: opts.clone() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_presets_and_overrides() -> Result<()> {
        let o = ProtocolOptions::parse("tol=1e-3, preset=readme, folds=4, seed=7, scale=inside, scheme=modulo")?;
        assert_eq!((o.preset, o.max_iter, o.tol, o.folds, o.seed), (Preset::Readme, 10_000, 1e-3, 4, 7));
        assert_eq!((o.scaling, o.scheme), (Scaling::Inside, FoldScheme::Modulo));
        assert_eq!(ProtocolOptions::parse("")?, ProtocolOptions::default());
        Ok(())
    }

    #[test]
    fn parse_errors_name_key_and_value() {
        let msg = |s: &str| ProtocolOptions::parse(s).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(msg("fold=5").contains("unknown option `fold`"));
        assert!(msg("folds=1").contains("invalid value `1` for option `folds`"));
        assert!(msg("tol=abc").contains("invalid value `abc` for option `tol`"));
        assert!(msg("scheme=spiral").contains("expected random, modulo, contiguous or given"));
        assert!(msg("preset=fast").contains("option `preset`"));
        assert!(msg("folds").contains("expected key=value"));
        assert!(msg("seed=1, seed=2").contains("given twice"));
    }
}
