//! The `relay` binary: parses the command line and hands over to `relay::cli`.

fn main() -> std::process::ExitCode {
    relay::cli::main()
}
