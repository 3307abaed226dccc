//! Envoy's API descriptors for `src/util/protomarshal.rs`: the `envoy-types` crate generates its
//! Rust types from Envoy's protos and ships their descriptor set beside them (`src/generated/types.bin`)
//! without exporting it, so the build copies that file, of the exact version in Cargo.lock, into OUT_DIR.

use std::path::PathBuf;
use std::process::Command;

fn main() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let manifest_dir = std::env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR");
    // Only the packages of the platform being built for: they are the ones downloaded.
    let target = std::env::var("TARGET").expect("TARGET");
    let out = Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--locked"])
        .args(["--filter-platform", &target])
        .current_dir(&manifest_dir)
        .output()
        .expect("running cargo metadata");
    assert!(
        out.status.success(),
        "cargo metadata failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("cargo metadata's JSON");
    let package = meta["packages"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|p| p["name"] == "envoy-types")
        .expect("envoy-types among the dependencies");
    let manifest = PathBuf::from(
        package["manifest_path"]
            .as_str()
            .expect("its manifest path"),
    );
    let descriptors = manifest
        .parent()
        .expect("its directory")
        .join("src/generated/types.bin");
    let to =
        PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR")).join("envoy-descriptors.bin");
    std::fs::copy(&descriptors, &to)
        .unwrap_or_else(|e| panic!("copying {}: {e}", descriptors.display()));
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=../Cargo.lock");
}
