//! The `desk` binary: the agents' terminal client. The real desk (sync engine, replica,
//! screens) arrives with the desk issues; until then this binary only says so, so that the
//! workspace layout and the binary name are fixed from the start.

fn main() -> std::process::ExitCode {
    eprintln!(
        "desk {}: the terminal desk is not built yet; protocol version {}",
        env!("CARGO_PKG_VERSION"),
        protocol::PROTOCOL_VERSION
    );
    std::process::ExitCode::from(2)
}
