//! Compiles proto/herald/v1 with the protoc binary shipped by `protoc-bin-vendored`,
//! so no system protoc is needed and nothing is downloaded.

use std::path::PathBuf;

const FILES: [&str; 4] = [
    "herald/v1/event.proto",
    "herald/v1/herald.proto",
    "herald/v1/edge.proto",
    "herald/v1/tasks.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    for f in FILES {
        println!("cargo:rerun-if-changed={f}");
    }
    let mut config = prost_build::Config::new();
    config.protoc_executable(protoc_bin_vendored::protoc_bin_path()?);
    tonic_prost_build::configure()
        .file_descriptor_set_path(out.join("herald_descriptor.bin"))
        .bytes(".herald.v1.Arg")
        .compile_with_config(config, &FILES, &["."])?;
    Ok(())
}
