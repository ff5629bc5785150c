//! The `herald` binary: `serve`, `core`, `edge`, `token`, `emit`.

mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
