//! Every bad checkpoint or input is a clear error naming the file, tensor or sequence.
use std::path::{Path, PathBuf};

use esmdb_model::{Config, EmbedOptions, LoadOptions};

fn model(seed: u64) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m");
    esmdb_model::init::write_random_model(&Config::for_architecture("esm2_t6_8M_UR50D").unwrap(), seed, &path).unwrap();
    (dir, path)
}

fn load_err(path: &Path) -> String {
    esmdb_model::load(&path.to_string_lossy(), &LoadOptions::default()).unwrap_err().to_string()
}

/// Rewrites model.safetensors through `edit`.
fn rewrite(path: &Path, edit: impl FnOnce(&mut Vec<(String, tch::Tensor)>)) {
    let st = path.join("model.safetensors");
    let mut tensors = tch::Tensor::read_safetensors(&st).unwrap();
    edit(&mut tensors);
    tch::Tensor::write_safetensors(&tensors, &st).unwrap();
}

#[test]
fn corrupt_safetensors_names_the_file() {
    let (_d, m) = model(1);
    let st = m.join("model.safetensors");
    let bytes = std::fs::read(&st).unwrap();
    std::fs::write(&st, &bytes[..bytes.len() / 2]).unwrap();
    let err = load_err(&m);
    assert!(err.contains("model.safetensors: cannot read weights"), "{err}");
}

#[test]
fn missing_tensor_is_named() {
    let (_d, m) = model(2);
    rewrite(&m, |t| t.retain(|(n, _)| n != "esm.encoder.layer.2.intermediate.dense.weight"));
    let err = load_err(&m);
    assert!(err.ends_with("tensor `encoder.layer.2.intermediate.dense.weight` is missing"), "{err}");
}

#[test]
fn misshaped_tensor_is_named_with_both_shapes() {
    let (_d, m) = model(3);
    rewrite(&m, |t| {
        for (n, v) in t.iter_mut() {
            if n == "esm.encoder.layer.0.intermediate.dense.weight" {
                *v = v.transpose(0, 1).contiguous();
            }
        }
    });
    let err = load_err(&m);
    assert!(
        err.contains("tensor `encoder.layer.0.intermediate.dense.weight` has shape [320, 1280], expected [1280, 320]"),
        "{err}"
    );
}

#[test]
fn missing_or_bad_config() {
    let (_d, m) = model(4);
    let cfg = m.join("config.json");
    let text = std::fs::read_to_string(&cfg).unwrap();
    std::fs::write(&cfg, text.replace("\"gelu\"", "\"relu\"")).unwrap();
    let err = load_err(&m);
    assert!(err.contains("config.json: invalid model config: hidden_act is `relu`"), "{err}");
    std::fs::remove_file(&cfg).unwrap();
    let err = load_err(&m);
    assert!(err.contains("config.json: No such file"), "{err}");
}

#[test]
fn corrupt_fair_esm_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let pt = dir.path().join("esm2_t6_8M_UR50D.pt");
    std::fs::write(&pt, b"definitely not a zip archive").unwrap();
    let err = load_err(&pt);
    assert!(err.contains("esm2_t6_8M_UR50D.pt: cannot read weights: not a torch.save zip archive"), "{err}");
}

#[test]
fn invalid_residue_and_layer_errors() {
    let (_d, m) = model(5);
    let loaded = esmdb_model::load(&m.to_string_lossy(), &LoadOptions::default()).unwrap();
    let seqs = [("ok", "MKT"), ("bad_one", "MK*T")];
    let err = loaded.embedder.embed(&seqs, &EmbedOptions::default()).unwrap_err().to_string();
    assert!(err.starts_with("sequence `bad_one`: invalid residue `*` at position 3"), "{err}");
    let opts = EmbedOptions { layers: vec![7], ..Default::default() };
    let err = loaded.embedder.embed(&seqs[..1], &opts).unwrap_err().to_string();
    assert_eq!(err, "invalid option: layer 7 out of range: this model has layers 0..=6");
}

#[test]
fn fp16_on_cpu_is_refused() {
    let (_d, m) = model(6);
    let opts = LoadOptions { precision: esmdb_model::Precision::F16, ..Default::default() };
    let err = esmdb_model::load(&m.to_string_lossy(), &opts).unwrap_err().to_string();
    assert_eq!(err, "device: fp16 is only supported on CUDA; use bf16 on CPU");
}

#[test]
fn random_models_are_deterministic_and_fully_random() {
    let (_d1, a) = model(7);
    let (_d2, b) = model(7);
    assert_eq!(
        std::fs::read(a.join("model.safetensors")).unwrap(),
        std::fs::read(b.join("model.safetensors")).unwrap()
    );
    let tensors = tch::Tensor::read_safetensors(a.join("model.safetensors")).unwrap();
    for (name, t) in tensors.iter().filter(|(n, _)| n.contains("LayerNorm") || n.contains("layer_norm")) {
        let min = t.min().double_value(&[]);
        let max = t.max().double_value(&[]);
        assert!(max - min > 0.1, "{name} is not randomized ({min}..{max})");
        assert!(name.ends_with(".bias") || (min - 1.0).abs() > 1e-3 || (max - 1.0).abs() > 1e-3, "{name}");
    }
}
