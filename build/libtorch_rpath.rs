//! Shared build script for every esmdb crate whose binaries or tests link libtorch.
//!
//! Why: the `esmdb` binary and the test executables must run without the user exporting
//! `LD_LIBRARY_PATH`, so we bake an rpath to the libtorch that tch was built against. And a tch binary
//! links only `libtorch_cpu` under the linker's default `--as-needed`, so CUDA reports unavailable unless
//! `libtorch_cuda` is linked explicitly; we do that when the libtorch in use has it.
//!
//! torch-sys publishes its lib dir as `DEP_TCH_LIBTORCH_LIB` to direct dependents (esmdb-model), and
//! esmdb-model re-publishes it as `DEP_ESMDB_LIBTORCH_LIBTORCH_LIB` to the crates above it, and esmdb-sql
//! as `DEP_ESMDB_SQL_LIBTORCH_LIBTORCH_LIB` to those that reach models only through SQL (esmdb-cluster).
#![allow(clippy::print_stdout)] // build scripts talk to cargo through stdout

use std::path::Path;

fn main() {
    let lib = std::env::var("DEP_TCH_LIBTORCH_LIB")
        .or_else(|_| std::env::var("DEP_ESMDB_LIBTORCH_LIBTORCH_LIB"))
        .or_else(|_| std::env::var("DEP_ESMDB_SQL_LIBTORCH_LIBTORCH_LIB"));
    let Ok(lib) = lib else {
        println!("cargo:warning=libtorch lib dir unknown: no rpath baked in");
        return;
    };
    // Re-export for the crates that depend on this one (only meaningful where `links` is set).
    println!("cargo:libtorch_lib={lib}");
    println!("cargo:rustc-link-arg=-Wl,-rpath,{lib}");
    if Path::new(&lib).join("libtorch_cuda.so").exists() {
        println!("cargo:rustc-link-arg=-Wl,--no-as-needed");
        println!("cargo:rustc-link-arg=-L{lib}");
        println!("cargo:rustc-link-arg=-ltorch_cuda");
        println!("cargo:rustc-link-arg=-Wl,--as-needed");
    }
}
