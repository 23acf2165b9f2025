//! The second, explicit confirmation of a reply the relay held: the relay's safety
//! classifier found something in a person's own text (an ungrounded price, link or phone
//! number…) or the draft approved was one the classifier held. The relay refused it with
//! `Rejection::Unconfirmed` and its reasons; the desk shows them and sends the same command
//! again inside `Command::Confirm` only on `y`.

use super::{App, Effect, Overlay, Pending};
use crossterm::event::KeyCode;
use protocol::Command;

impl App {
    /// The relay held `pending`'s reply: ask before sending it as it is.
    pub(super) fn ask_to_confirm(&mut self, pending: Pending, reasons: Vec<String>) {
        self.notices.insert(
            (pending.profile, pending.thread.clone()),
            format!("{} held: {}", pending.label, reasons.join("; ")),
        );
        // Only what was itself a reply can be confirmed; the relay refuses anything else.
        if matches!(pending.command, Command::Confirm { .. }) {
            return;
        }
        self.overlay = Overlay::ConfirmSend {
            profile: pending.profile,
            thread: pending.thread,
            command: Box::new(pending.command),
            reasons,
        };
    }

    /// `y` sends the held reply confirmed; any other key leaves it unsent.
    pub(super) fn confirm_key(&mut self, code: KeyCode, effects: &mut Vec<Effect>) {
        let Overlay::ConfirmSend {
            profile,
            thread,
            command,
            ..
        } = std::mem::replace(&mut self.overlay, Overlay::None)
        else {
            return;
        };
        if code == KeyCode::Char('y') {
            effects.push(self.submit(profile, &thread, Command::Confirm { command }));
        } else {
            self.flash = Some("not sent; the reply stays as it was".into());
        }
    }
}
