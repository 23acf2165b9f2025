//! The `desk` binary: the agents' terminal client. The sync engine, the replica and the
//! outbox live in the `desk_tui` library; the screens arrive with the TUI issue. Until
//! then this binary only says so, so that the binary name is fixed from the start.

fn main() -> std::process::ExitCode {
    eprintln!(
        "desk {}: the terminal screens are not built yet (the sync engine is, as a library); \
         protocol version {}",
        env!("CARGO_PKG_VERSION"),
        protocol::PROTOCOL_VERSION
    );
    std::process::ExitCode::from(2)
}
