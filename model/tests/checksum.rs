//! Loading remembers the weights' checksum in a sidecar: the value is always the SHA-256 of the bytes,
//! and an unchanged checkpoint is hashed only once.
use std::path::{Path, PathBuf};
use std::time::Duration;

use esmdb_model::Config;
use esmdb_model::weights::checksum::{RACY_WINDOW, SIDECAR_SUFFIX};
use sha2::Digest;

fn direct(path: &Path) -> String {
    hex::encode(&sha2::Sha256::digest(std::fs::read(path).unwrap())[..8])
}

fn load_checksum(path: &Path) -> String {
    esmdb_model::weights::load(path).unwrap().checksum
}

#[test]
fn load_reads_the_checksum_from_the_sidecar_until_the_file_changes() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("m");
    esmdb_model::init::write_random_model(&Config::for_architecture("esm2_t6_8M_UR50D").unwrap(), 1, &model).unwrap();
    let st = model.join("model.safetensors");
    let sidecar = PathBuf::from(format!("{}{SIDECAR_SUFFIX}", st.display()));

    // A file written this instant is hashed but not remembered: it could still change unseen.
    assert_eq!(load_checksum(&model), direct(&st));
    assert!(!sidecar.exists());

    std::thread::sleep(RACY_WINDOW + Duration::from_millis(200));
    assert_eq!(load_checksum(&model), direct(&st));
    assert!(sidecar.is_file());

    // Tamper with the remembered digest, keys untouched: the load reports it, so it was not rehashed.
    let text = std::fs::read_to_string(&sidecar).unwrap();
    let full = hex::encode(sha2::Sha256::digest(std::fs::read(&st).unwrap()));
    assert!(text.contains(&full), "{text}");
    std::fs::write(&sidecar, text.replace(&full, &"f".repeat(64))).unwrap();
    assert_eq!(load_checksum(&model), "f".repeat(16));

    // A different mtime (same bytes) invalidates it; the fresh hash is the true one again.
    let file = std::fs::File::options().write(true).open(&st).unwrap();
    let mtime = file.metadata().unwrap().modified().unwrap();
    file.set_modified(mtime - Duration::from_secs(60)).unwrap();
    assert_eq!(load_checksum(&model), direct(&st));
}
