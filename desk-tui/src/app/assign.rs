//! Assignment and snooze: `A` (`:assign AGENT`, `:assign me`) gives the thread to an agent of
//! the tenant — the relay decides who may (owners always, agents when the tenant allows);
//! `z` snoozes the thread until the customer writes, or wakes it; `:snooze 2h` snoozes it for
//! a while of the relay's clock. The assignee's desk rings and says so (`load.rs`).

use super::{App, Effect, Input};
use protocol::{AgentId, Command};

/// `30m`, `2h`, `1d`, `45s` or a bare number of minutes → milliseconds.
#[must_use]
pub fn parse_duration(text: &str) -> Option<u64> {
    let text = text.trim();
    let (number, unit) = match text.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((i, _)) => text.split_at(i),
        None => (text, "m"),
    };
    let n: u64 = number.parse().ok().filter(|n| *n > 0)?;
    let unit_ms = match unit.trim() {
        "s" => 1_000,
        "m" | "min" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return None,
    };
    n.checked_mul(unit_ms)
}

impl App {
    /// `A`: the command line, ready for the agent's id.
    pub(super) fn start_assign(&mut self) {
        self.input = Input::Command("assign ".into());
    }

    /// `:assign AGENT` (an agent id; `me` for oneself).
    pub(super) fn assign_to(&mut self, who: &str, effects: &mut Vec<Effect>) {
        let Some((profile, row)) = self.target() else {
            self.flash = Some("open or select a thread first".into());
            return;
        };
        let to = match who.trim() {
            "" => {
                self.flash = Some("assign AGENT (an agent id, or me)".into());
                return;
            }
            "me" => self.profiles[profile].me.clone(),
            id => AgentId::new(id),
        };
        effects.push(self.submit(
            profile,
            &row.id,
            Command::Assign {
                thread: row.id.clone(),
                to,
            },
        ));
    }

    /// `z`: snooze until the customer writes, or wake a snoozed thread.
    pub(super) fn toggle_snooze(&mut self, effects: &mut Vec<Effect>) {
        let Some((profile, row)) = self.target() else {
            self.flash = Some("open or select a thread first".into());
            return;
        };
        let thread = row.id.clone();
        let command = if row.snoozed.is_some() {
            Command::Unsnooze { thread }
        } else {
            self.flash = Some("snoozed until the customer writes (:snooze 2h for a while)".into());
            Command::Snooze {
                thread,
                for_ms: None,
            }
        };
        effects.push(self.submit(profile, &row.id, command));
    }

    /// `:snooze 2h`.
    pub(super) fn snooze_for(&mut self, how_long: &str, effects: &mut Vec<Effect>) {
        let Some(for_ms) = parse_duration(how_long) else {
            self.flash = Some("snooze 30m, 2h or 1d (or z: until the customer writes)".into());
            return;
        };
        let Some((profile, row)) = self.target() else {
            self.flash = Some("open or select a thread first".into());
            return;
        };
        effects.push(self.submit(
            profile,
            &row.id,
            Command::Snooze {
                thread: row.id.clone(),
                for_ms: Some(for_ms),
            },
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::parse_duration;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30m"), Some(1_800_000));
        assert_eq!(parse_duration("2h"), Some(7_200_000));
        assert_eq!(parse_duration("1d"), Some(86_400_000));
        assert_eq!(parse_duration("15"), Some(900_000));
        assert_eq!(parse_duration("0m"), None);
        assert_eq!(parse_duration("soon"), None);
        assert_eq!(parse_duration("2w"), None);
    }
}
