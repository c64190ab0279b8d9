//! What a model's name says about it: its family and size, as the paper's table spells them. Names
//! are all this crate sees (it knows nothing of checkpoints), so every figure and the results file
//! read them here, once: `esm2_t6_8M_UR50D`, `esmc_300m`, a hub repo `biohub/ESMC-300M` and the
//! paper's `esmc` + `300M` all land on the same [`ModelKey`].

use std::cmp::Ordering;

/// Model families of the paper's table, by the prefix their names carry (lower case), with the
/// label figures show.
const FAMILIES: [(&str, &str); 5] =
    [("esm2", "ESM2"), ("esmc", "ESM C"), ("esm1v", "ESM-1v"), ("esm1b", "ESM-1b"), ("amplify", "AMPLIFY")];

/// The last component of a model name, without a weights file's extension, a store id's
/// `@checksum` or a Hugging Face cache's `models--org--` prefix.
fn stem(name: &str) -> &str {
    let trimmed = name.trim().trim_end_matches(['/', '\\']);
    let last = trimmed.rsplit(['/', '\\']).next().unwrap_or(trimmed);
    let last = last.split('@').next().unwrap_or(last);
    let last = match last.strip_prefix("models--") {
        Some(repo) => repo.rsplit("--").next().unwrap_or(repo),
        None => last,
    };
    match last.rsplit_once('.') {
        Some((stem, ext)) if ext.chars().all(|c| c.is_ascii_alphabetic()) => stem,
        _ => last,
    }
}

/// The paper's family name (`esm2`, `esmc`, `esm1v`, `esm1b`, `amplify`) of a model name, from its
/// leading token: `esm2_t33_650M_UR50D` → `esm2`, `ESMC-300M` → `esmc`. `None` for other names.
pub fn model_family(name: &str) -> Option<&'static str> {
    let lower = stem(name).to_ascii_lowercase();
    let head = lower.split(['_', '-', ' ']).next().unwrap_or("");
    FAMILIES.iter().map(|f| f.0).find(|fam| head == *fam)
}

/// How figures name a family: `ESM2`, `ESM C`, `ESM-1v`, …; other names as given.
pub fn family_label(family: &str) -> &str {
    FAMILIES.iter().find(|f| f.0 == family).map_or(family, |f| f.1)
}

/// Parameters of a model from its name: the first `_`/`-`-separated token that is a number with a
/// K/M/B/T suffix (`esm2_t33_650M_UR50D` → 6.5e8, `esm2_t48_15B_UR50D` → 1.5e10, `esmc_300m` → 3e8).
/// A directory path counts by its last component, a `.pt`/`.safetensors` extension and an
/// `@checksum` (store model ids) are ignored; `esm1v`/`esm1b` are 650M. `None` when there is no size.
pub fn model_size(name: &str) -> Option<f64> {
    let stem = stem(name);
    let from_token = stem.split(['_', '-', '+', ' ']).find_map(size_token);
    from_token.or_else(|| matches!(model_family(stem), Some("esm1v" | "esm1b")).then_some(650e6))
}

fn size_token(token: &str) -> Option<f64> {
    let (number, suffix) = token.split_at(token.len().checked_sub(1)?);
    let scale = match suffix {
        "K" | "k" => 1e3,
        "M" | "m" => 1e6,
        "B" | "b" | "G" => 1e9,
        "T" => 1e12,
        _ => return None,
    };
    let well_formed = number.starts_with(|c: char| c.is_ascii_digit())
        && number.chars().all(|c| c.is_ascii_digit() || c == '.')
        && number.matches('.').count() <= 1;
    if !well_formed {
        return None;
    }
    number.parse::<f64>().ok().map(|v| v * scale)
}

/// A parameter count as the paper writes sizes: `8M`, `650M`, `1.5B`, `15B`.
pub fn format_size(params: f64) -> String {
    let (value, unit) = match params.abs() {
        p if p >= 1e12 => (params / 1e12, "T"),
        p if p >= 1e9 => (params / 1e9, "B"),
        p if p >= 1e6 => (params / 1e6, "M"),
        p if p >= 1e3 => (params / 1e3, "K"),
        _ => (params, ""),
    };
    let text = format!("{value:.1}");
    format!("{}{unit}", text.strip_suffix(".0").unwrap_or(&text))
}

/// The `Model` and `ModelSize` columns the paper's table gives a model: (`esm2`, `8M`) for
/// `esm2_t6_8M_UR50D`, (`esmc`, `300M`) for `esmc_300m`, (`esm1v`, `650M`) for any ESM-1v. A name
/// of no known family keeps itself as `Model`; a size that cannot be read is empty.
pub fn paper_columns(name: &str) -> (String, String) {
    let family = model_family(name).map_or_else(|| name.to_string(), str::to_string);
    (family, model_size(name).map(format_size).unwrap_or_default())
}

/// What identifies a model across our results and the paper's: family and size when the name gives
/// both (the paper's one ESM-1v is any of the five `esm1v_…_1` … `_5`), else the name itself.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ModelKey {
    /// A model of a known family and size, e.g. (`esmc`, `300M`).
    Sized(&'static str, String),
    /// Any other model, by name.
    Named(String),
}

impl ModelKey {
    /// The key of a model name (ours or one read from the paper's table).
    pub fn of(name: &str) -> Self {
        match (model_family(name), model_size(name)) {
            (Some(family), Some(size)) => Self::Sized(family, format_size(size)),
            _ => Self::Named(name.to_string()),
        }
    }
}

/// Orders model names by parameter count, unknown sizes last, then by name.
pub(crate) fn cmp_models(a: &str, b: &str) -> Ordering {
    match (model_size(a), model_size(b)) {
        (Some(x), Some(y)) => x.total_cmp(&y),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    }
    .then_with(|| a.cmp(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_from_names() {
        assert_eq!(model_size("esm2_t6_8M_UR50D"), Some(8e6));
        assert_eq!(model_size("esm2_t12_35M_UR50D"), Some(35e6));
        assert_eq!(model_size("esm2_t30_150M_UR50D.pt"), Some(150e6));
        assert_eq!(model_size("esm2_t33_650M_UR50D"), Some(650e6));
        assert_eq!(model_size("esm2_t36_3B_UR50D"), Some(3e9));
        assert_eq!(model_size("esm2_t48_15B_UR50D"), Some(15e9));
        assert_eq!(model_size("/models/esm2_t33_650M_UR50D/"), Some(650e6));
        assert_eq!(model_size("hub/models--facebook--esm2_t6_8M_UR50D"), Some(8e6));
        assert_eq!(model_size("esm2_t6_8M_UR50D@3f9a2b+bf16"), Some(8e6));
        assert_eq!(model_size("esmc_300M"), Some(300e6));
        assert_eq!(model_size("esmc_300m"), Some(300e6));
        assert_eq!(model_size("ESMC-600M"), Some(600e6));
        assert_eq!(model_size("esmc_300m_2024_12_v0.pth"), Some(300e6));
        assert_eq!(model_size("amplify_120M"), Some(120e6));
        assert_eq!(model_size("esm1v"), Some(650e6));
        assert_eq!(model_size("esm1v_t33_650M_UR90S_3"), Some(650e6));
        assert_eq!(model_size("esm_1.5B"), Some(1.5e9));
        assert_eq!(model_size("esm2"), None);
        assert_eq!(model_size("ridge"), None);
        assert_eq!(model_size(""), None);
    }

    #[test]
    fn sizes_format_back() {
        assert_eq!(format_size(8e6), "8M");
        assert_eq!(format_size(650e6), "650M");
        assert_eq!(format_size(1.5e9), "1.5B");
        assert_eq!(format_size(15e9), "15B");
    }

    #[test]
    fn families_from_names() {
        assert_eq!(model_family("esm2_t6_8M_UR50D"), Some("esm2"));
        assert_eq!(model_family("/cache/hub/models--biohub--ESMC-300M"), Some("esmc"));
        assert_eq!(model_family("ESMC-300M"), Some("esmc"));
        assert_eq!(model_family("esmc_300m_2024_12_v0.pth"), Some("esmc"));
        assert_eq!(model_family("esm1v_t33_650M_UR90S_1.pt"), Some("esm1v"));
        assert_eq!(model_family("esm1b_t33_650M_UR50S"), Some("esm1b"));
        assert_eq!(model_family("amplify_120M"), Some("amplify"));
        assert_eq!(model_family("esm2x_8M"), None, "a whole token, not a prefix");
        assert_eq!(model_family("my_model"), None);
        assert_eq!(family_label("esmc"), "ESM C");
        assert_eq!(family_label("other"), "other");
    }

    #[test]
    fn paper_columns_spell_family_and_size() {
        assert_eq!(paper_columns("esm2_t6_8M_UR50D"), ("esm2".into(), "8M".into()));
        assert_eq!(paper_columns("esmc_300m"), ("esmc".into(), "300M".into()));
        assert_eq!(paper_columns("esm1v_t33_650M_UR90S_1"), ("esm1v".into(), "650M".into()));
        assert_eq!(paper_columns("my_model"), ("my_model".into(), String::new()));
    }

    #[test]
    fn keys_match_across_spellings() {
        assert_eq!(ModelKey::of("esmc_300m"), ModelKey::of("esmc_300M"));
        assert_eq!(ModelKey::of("biohub/ESMC-300M"), ModelKey::of("esmc_300M"));
        assert_eq!(ModelKey::of("esm1v_t33_650M_UR90S_1"), ModelKey::of("esm1v"));
        assert_ne!(ModelKey::of("esm1b_t33_650M_UR50S"), ModelKey::of("esm1v"));
        assert_ne!(ModelKey::of("esm2_t33_650M_UR50D"), ModelKey::of("esm1v"));
        assert_eq!(ModelKey::of("x"), ModelKey::Named("x".into()));
    }

    #[test]
    fn models_sort_by_size_then_name() {
        let mut names = vec!["esm2_t33_650M_UR50D", "x", "esm2_t6_8M_UR50D", "esm1v", "esm2_t36_3B_UR50D"];
        names.sort_by(|a, b| cmp_models(a, b));
        assert_eq!(names, ["esm2_t6_8M_UR50D", "esm1v", "esm2_t33_650M_UR50D", "esm2_t36_3B_UR50D", "x"]);
    }
}
