//! The desk's state and the one function that changes it.
//!
//! Keys, sync updates, answers and HTTP results all become [`Msg`]s; [`App::update`] is the
//! only place state changes, and it returns [`Effect`]s (submit a command, open `$EDITOR`,
//! fetch settings…) for the runtime to carry out, whose results come back as messages.
//! The view (`crate::ui`) only reads an `App`. Update reads the local replica directly (a
//! local sled read, never the network), so a key press is handled in one step.

mod actions;
mod assign;
mod canned;
pub mod compose_kinds;
mod confirm;
mod input;
pub mod keymap;
mod load;
mod media;
mod templates;
mod update;

pub use actions::channel_name;
pub use canned::{CannedPicker, customer_name, expand_shortcut, fill_for as fill_canned};
pub use media::{ImageSlot, InlineImage, MediaKey};
pub use templates::{Fill, TemplatePicker, template_only};
pub use update::label;

use crate::model::detail::ThreadDetail;
use crate::model::inbox::{Filter, Inbox, Sort};
use crate::remote::{CannedLine, ReportData, SettingsData, TemplateLine};
use crate::{ConnectionState, Replica};
use crossterm::event::KeyEvent;
use keymap::Keymap;
use protocol::{AgentId, Answer, Command, CommandKey, Millis, Role, Seq, ThreadId};
use ratatui_textarea::TextArea;
use std::collections::HashMap;

/// What a profile's token may see.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ProfileRole {
    Agent,
    Owner,
    /// A partner viewer: the report only, no conversations.
    Partner,
}

impl From<Role> for ProfileRole {
    fn from(role: Role) -> Self {
        match role {
            Role::Agent => ProfileRole::Agent,
            Role::Owner => ProfileRole::Owner,
        }
    }
}

/// One relay + token the desk is signed in with.
#[derive(Debug)]
pub struct Profile {
    /// The short name shown as the row badge in a combined queue.
    pub name: String,
    /// `None` for partner viewers, who have no conversations to replicate.
    pub replica: Option<Replica>,
    pub me: AgentId,
    pub role: ProfileRole,
    /// The tenant (agents, owners) or partner (viewers) id, for the admin calls.
    pub tenant: Option<String>,
    pub partner: Option<String>,
    pub brand: String,
    pub tenant_name: String,
    pub connection: ConnectionState,
    /// When the engine tries again, while offline (the header counts down to it).
    pub retry_at: Option<Millis>,
    /// The replica's cursor as far as the inbox has read it.
    pub cursor: Seq,
    pub credits: Option<i64>,
    /// The relay is reached by plain `http://` over a network (not loopback): the header
    /// says "not encrypted".
    pub unencrypted: bool,
}

/// Which screen is up.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Screen {
    Inbox,
    Thread,
    Settings,
    Report,
}

/// Which pane has the focus on the thread screen.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Pane {
    List,
    Conversation,
    Context,
}

/// Where a composed reply goes.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Target {
    /// A DM or WhatsApp reply.
    Message,
    PublicReply,
    PrivateReply,
}

impl Target {
    #[must_use]
    pub fn label(self) -> &'static str {
        match self {
            Target::Message => "reply",
            Target::PublicReply => "public reply",
            Target::PrivateReply => "private reply (DM)",
        }
    }
}

/// What the composer is writing.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ComposeKind {
    /// Editing draft `base`; saved as version `next`.
    Draft { base: u32, next: u32 },
    /// Our own reply.
    Reply(Target),
    /// A private note for the tenant's people, never sent.
    Note,
}

/// The composer: an inline editor over one thread.
#[derive(Debug)]
pub struct Composer {
    pub profile: usize,
    pub thread: ThreadId,
    pub kind: ComposeKind,
    pub editor: TextArea<'static>,
    /// Ctrl-C was pressed once: the next Ctrl-C discards the text.
    pub cancel_armed: bool,
}

impl Composer {
    #[must_use]
    pub fn text(&self) -> String {
        self.editor.lines().join("\n")
    }
}

/// The line at the bottom taking typed input.
#[derive(Debug)]
pub enum Input {
    Normal,
    Search(String),
    Command(String),
    Composer(Box<Composer>),
    /// `o` in a thread with several attachments: the number typed so far.
    PickMedia(String),
    /// The WhatsApp template picker (`t`, or `r` on a thread only a template can reach).
    Templates(Box<TemplatePicker>),
    /// The canned-reply picker (`C`): a fuzzy search over shortcuts and titles.
    Canned(Box<CannedPicker>),
}

/// Something on top of the screen.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Overlay {
    None,
    Help,
    ConfirmQuit,
    /// "Disconnect this channel?" about one channel of `profile`'s settings. Held by id, not
    /// list position: the settings may reload (and reorder) while the question is up.
    ConfirmDisconnect {
        profile: usize,
        channel: String,
        /// As the question names it.
        name: String,
    },
    /// The relay held a reply of ours for a second look: "send it anyway?" with why.
    ConfirmSend {
        profile: usize,
        thread: ThreadId,
        command: Box<Command>,
        reasons: Vec<String>,
    },
}

/// The thread on screen.
#[derive(Debug)]
pub struct OpenThread {
    pub profile: usize,
    pub thread: ThreadId,
    pub detail: ThreadDetail,
    /// Lines scrolled up from the newest message.
    pub scroll: u16,
    /// Show the customer's texts before their edits (`:edits` toggles it).
    pub show_edits: bool,
}

/// A command sent and not yet answered: shown on its row until the relay acks it.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Pending {
    pub local: u64,
    pub profile: usize,
    pub thread: ThreadId,
    pub label: String,
    /// Set once the outbox holds it.
    pub key: Option<CommandKey>,
    /// What was sent, so a reply the relay holds can be confirmed as it was.
    pub command: Command,
}

/// Data fetched over HTTP for the settings and report screens.
#[derive(Clone, PartialEq, Debug)]
pub enum Remote<T> {
    NotLoaded,
    Loading,
    Loaded(T),
    Failed(String),
}

/// Everything the desk shows.
#[derive(Debug)]
pub struct App {
    pub profiles: Vec<Profile>,
    pub inbox: Inbox,
    pub filter: Filter,
    pub sort: Sort,
    pub search: String,
    /// Position in the listed rows.
    pub selected: usize,
    pub screen: Screen,
    pub pane: Pane,
    pub overlay: Overlay,
    pub input: Input,
    pub open: Option<OpenThread>,
    pub pending: Vec<Pending>,
    /// The latest rejection or failure per thread, in words, until the next action there.
    pub notices: HashMap<(usize, ThreadId), String>,
    /// A one-line message for the status bar (errors of the desk itself, hints).
    pub flash: Option<String>,
    pub now: Millis,
    pub keymap: Keymap,
    /// Ring the terminal bell on new customer messages.
    pub bell: bool,
    pub settings: Remote<SettingsData>,
    pub report: Remote<ReportData>,
    /// Show the first-keys hint (the demo turns it on).
    pub hint: bool,
    pub quit: bool,
    /// The owner profile the settings screen is about.
    pub settings_profile: usize,
    /// The channel under the cursor on the settings screen.
    pub settings_selected: usize,
    /// Answers that overtook the outbox's own confirmation of their command.
    early_answers: Vec<(usize, CommandKey, Answer)>,
    next_local: u64,
    /// The terminal draws images (kitty, iTerm2, sixel): the open thread's images are
    /// fetched and shown inline.
    pub inline_images: bool,
    /// Inline images of this run, in memory only (Meta forbids keeping story media).
    pub images: HashMap<MediaKey, ImageSlot>,
    /// Where the desk's own loopback server serves attachments (`crate::media`): the
    /// thread's attachment lines link there (OSC 8) for terminals that make links clickable.
    pub media_links: Option<String>,
    /// Each profile's canned replies, as last fetched (`C`, `/shortcut`, settings).
    pub canned: HashMap<usize, Remote<Vec<CannedLine>>>,
}

/// Everything that can change the desk.
#[derive(Debug)]
pub enum Msg {
    Key(KeyEvent),
    /// A paste into the composer.
    Paste(String),
    /// SIGTERM: quit now, whatever is on screen (queued commands stay in the outbox).
    Terminate,
    /// The clock moved (windows count down).
    Tick(Millis),
    Resize,
    /// A profile's replica holds events up to `cursor`.
    Applied {
        profile: usize,
        cursor: Seq,
    },
    Connection {
        profile: usize,
        state: ConnectionState,
    },
    /// The relay deleted a profile's tenant; its replica was erased.
    Erased {
        profile: usize,
    },
    /// A profile's replica finished opening (the inbox was drawn from its snapshot).
    ReplicaReady {
        profile: usize,
        replica: Replica,
    },
    /// The outbox took the command submitted as `local`, under `key`, or could not.
    Submitted {
        local: u64,
        result: Result<CommandKey, String>,
    },
    Answered {
        profile: usize,
        key: CommandKey,
        answer: Answer,
    },
    /// `$EDITOR` returned (`Err`: it could not run).
    EditorDone(Result<String, String>),
    Settings {
        profile: usize,
        result: Result<SettingsData, String>,
    },
    Report {
        profile: usize,
        result: Result<ReportData, String>,
    },
    /// Attachment `number` was handed to the system opener, or could not be.
    MediaOpened {
        number: usize,
        result: Result<(), String>,
    },
    /// An inline image is ready to draw, or will not be shown.
    Image {
        key: MediaKey,
        result: Result<InlineImage, String>,
    },
    /// A channel's WhatsApp templates, for the picker.
    Templates {
        profile: usize,
        channel: String,
        result: Result<Vec<TemplateLine>, String>,
    },
    /// A profile's canned replies.
    Canned {
        profile: usize,
        result: Result<Vec<CannedLine>, String>,
    },
    /// An owner's change to the canned replies was made (the words say what), or refused.
    CannedChanged {
        profile: usize,
        result: Result<String, String>,
    },
    /// A local file was uploaded to Meta through the relay (`Ok`: the id to send), or not.
    Uploaded {
        profile: usize,
        thread: ThreadId,
        kind: protocol::MediaKind,
        caption: Option<String>,
        result: Result<String, String>,
    },
}

/// Work for the runtime.
#[derive(Clone, PartialEq, Debug)]
pub enum Effect {
    /// Queue `command` in `profile`'s outbox; answer with [`Msg::Submitted`].
    Submit {
        local: u64,
        profile: usize,
        command: Command,
    },
    /// Suspend the screen, edit `text` in `$EDITOR`, answer with [`Msg::EditorDone`].
    Editor {
        text: String,
    },
    FetchSettings {
        profile: usize,
    },
    SetAutoSend {
        profile: usize,
        on: bool,
    },
    /// Mint one connect link of `kind` (owner), then reload the settings.
    MintConnectLink {
        profile: usize,
        kind: String,
    },
    /// Disconnect a channel (owner), then reload the settings.
    Disconnect {
        profile: usize,
        channel: String,
    },
    FetchReport {
        profile: usize,
    },
    /// Fetch an attachment through the relay and hand it to the system opener; answer with
    /// [`Msg::MediaOpened`].
    OpenMedia {
        key: MediaKey,
        number: usize,
    },
    /// Fetch images and encode them for the terminal; answer each with [`Msg::Image`].
    FetchImages {
        keys: Vec<MediaKey>,
    },
    /// Ask the relay for a channel's WhatsApp templates; answer with [`Msg::Templates`].
    FetchTemplates {
        profile: usize,
        channel: String,
    },
    /// Ask the relay for a profile's canned replies; answer with [`Msg::Canned`].
    FetchCanned {
        profile: usize,
    },
    /// Add or replace a canned reply (owner); answer with [`Msg::CannedChanged`].
    PutCanned {
        profile: usize,
        shortcut: String,
        title: String,
        text: String,
    },
    RemoveCanned {
        profile: usize,
        shortcut: String,
    },
    Bell,
    Quit,
    /// Read the local file at `path`, check it against the channel's limits, upload it
    /// through the relay; answer with [`Msg::Uploaded`].
    Upload {
        profile: usize,
        thread: ThreadId,
        /// The relay's id of the thread's channel.
        channel: String,
        on: protocol::Channel,
        kind: protocol::MediaKind,
        path: std::path::PathBuf,
        caption: Option<String>,
    },
}

impl App {
    /// A desk over `profiles`, with the inbox read from their replicas.
    #[must_use]
    pub fn new(profiles: Vec<Profile>, keymap: Keymap, now: Millis) -> App {
        let report_only =
            !profiles.is_empty() && profiles.iter().all(|p| p.role == ProfileRole::Partner);
        let mut app = App {
            profiles,
            inbox: Inbox::default(),
            filter: Filter::default(),
            sort: Sort::default(),
            search: String::new(),
            selected: 0,
            screen: if report_only {
                Screen::Report
            } else {
                Screen::Inbox
            },
            pane: Pane::List,
            overlay: Overlay::None,
            input: Input::Normal,
            open: None,
            pending: Vec::new(),
            notices: HashMap::new(),
            flash: None,
            now,
            keymap,
            bell: false,
            settings: Remote::NotLoaded,
            report: Remote::NotLoaded,
            hint: false,
            quit: false,
            settings_profile: 0,
            settings_selected: 0,
            early_answers: Vec::new(),
            next_local: 0,
            inline_images: false,
            images: HashMap::new(),
            media_links: None,
            canned: HashMap::new(),
        };
        app.load_all();
        app
    }

    /// The row under the cursor: (profile, thread).
    #[must_use]
    pub fn selected_thread(&self) -> Option<(usize, ThreadId)> {
        self.inbox
            .visible_at(self.selected)
            .map(|e| (e.profile, e.id().clone()))
    }

    /// Commands of (profile, thread) still waiting for their ack.
    pub fn pending_for<'a>(
        &'a self,
        profile: usize,
        thread: &'a ThreadId,
    ) -> impl Iterator<Item = &'a Pending> {
        self.pending
            .iter()
            .filter(move |p| p.profile == profile && &p.thread == thread)
    }

    /// Commands not yet answered, over all profiles.
    #[must_use]
    pub fn queued(&self) -> usize {
        self.pending.len()
    }

    /// The profile with the given index.
    #[must_use]
    pub fn profile(&self, index: usize) -> Option<&Profile> {
        self.profiles.get(index)
    }

    /// Whether several profiles share this inbox (rows then carry a badge).
    #[must_use]
    pub fn combined(&self) -> bool {
        self.profiles
            .iter()
            .filter(|p| p.role != ProfileRole::Partner)
            .count()
            > 1
    }
}
