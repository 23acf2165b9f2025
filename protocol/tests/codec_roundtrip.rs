//! Property tests of `protocol::codec`: every protocol type survives bincode and JSON
//! round trips, tagged JSON frames carry the right `"type"`, hostile input never panics the
//! decoders, and a few fixed JSON texts pin the wire format of the desk WebSocket.
//!
//! The strategies below generate arbitrary values of every wire type, with strings that mix
//! ASCII, non-ASCII text, emoji (including multi-code-point sequences) and JSON-special
//! characters. Floats are finite only, because `NaN != NaN` would make equality useless.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use proptest::prelude::*;
use protocol::codec::{
    decode_binary, decode_json, decode_json_frame, encode_binary, encode_json, encode_json_frame,
};
use protocol::inbound::{
    Attachment, AttachmentKind, Comment, CommentMedia, DeliveryStatus, Edit, Forwarded,
    InboundKind, MessageBody, OrderItem, Postback, ProviderError, Reaction, ReactionAction,
    Referral, ReplyTo, SharedContact, StatusKind, Structured,
};
use protocol::{
    AccountEvent, AccountEventKind, AgentId, Answer, Channel, ChannelId, ClientFrame, CodecError,
    Command, CommandKey, Customer, CustomerId, DeskAction, DeskEvent, Draft, DraftAuthor, DraftId,
    Event, EventBody, FailureClass, InboundEvent, MessageId, Millis, OutboxEvent, PROTOCOL_VERSION,
    PartnerId, Rejection, Role, SendFailure, SendStatus, Seq, ServerFrame, TenantId, ThreadId,
    UnknownEvent, window::ReplyKind,
};
use protocol::{Card, Choice, CreditsEvent, MediaKind, ReplyContent, SenderAction};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

// ---------------------------------------------------------------------------------------
// Primitive strategies
// ---------------------------------------------------------------------------------------

/// Strings that matter on the wire: empty, non-ASCII, emoji (with modifiers and ZWJ
/// sequences), control characters, and characters JSON must escape.
const TRICKY: &[&str] = &[
    "",
    " ",
    "héllo wörld",
    "日本語のテキスト",
    "مرحبا",
    "👍",
    "👍🏽",
    "👨‍👩‍👧‍👦",
    "🇧🇷🇩🇪",
    "❤️‍🔥",
    "\u{0}",
    "\u{7f}\u{1b}[0m",
    "line\nbreak\ttab\r",
    "\"type\":\"hello\"",
    "\\",
    "{\"type\":\"welcome\"}",
    "\u{feff}bom",
    "\u{10ffff}",
    "a\u{301}",
];

// `text()`, `opt_text()` and the larger composites are boxed: unboxed, the nested strategy
// and value-tree types of a whole `Event` overflow the 2 MiB test-thread stack in debug
// builds (the codec itself is not deep; this is proptest's machinery).
fn text() -> BoxedStrategy<String> {
    prop_oneof![
        4 => "\\PC{0,20}",
        2 => ".{0,12}",
        2 => prop::sample::select(TRICKY).prop_map(str::to_owned),
        1 => (prop::sample::select(TRICKY), "\\PC{0,6}", prop::sample::select(TRICKY))
            .prop_map(|(a, b, c)| format!("{a}{b}{c}")),
    ]
    .boxed()
}

fn opt_text() -> BoxedStrategy<Option<String>> {
    proptest::option::of(text()).boxed()
}

/// Finite floats only: mostly a wide range, plus edge values that stress float printing
/// and parsing (subnormals, extremes, exact powers).
fn finite_f64() -> impl Strategy<Value = f64> {
    prop_oneof![
        6 => -1e9f64..1e9f64,
        2 => -180.0f64..180.0f64,
        1 => prop::sample::select(vec![
            0.0,
            -0.0,
            1.0,
            -1.5,
            0.1,
            f64::MAX,
            f64::MIN,
            f64::MIN_POSITIVE,
            f64::EPSILON,
            5e-324,
            1e300,
        ]),
    ]
}

fn millis() -> impl Strategy<Value = Millis> {
    any::<i64>().prop_map(Millis)
}

fn seq() -> impl Strategy<Value = Seq> {
    any::<u64>().prop_map(Seq)
}

fn tenant_id() -> impl Strategy<Value = TenantId> {
    text().prop_map(TenantId)
}

fn partner_id() -> impl Strategy<Value = PartnerId> {
    text().prop_map(PartnerId::new)
}

fn channel_id() -> impl Strategy<Value = ChannelId> {
    text().prop_map(ChannelId)
}

fn thread_id() -> impl Strategy<Value = ThreadId> {
    text().prop_map(ThreadId)
}

fn message_id() -> impl Strategy<Value = MessageId> {
    text().prop_map(MessageId::new)
}

fn draft_id() -> impl Strategy<Value = DraftId> {
    text().prop_map(DraftId::new)
}

fn agent_id() -> impl Strategy<Value = AgentId> {
    text().prop_map(AgentId)
}

// ---------------------------------------------------------------------------------------
// Customer
// ---------------------------------------------------------------------------------------

fn channel() -> impl Strategy<Value = Channel> {
    prop_oneof![
        Just(Channel::InstagramDm),
        Just(Channel::InstagramComment),
        Just(Channel::WhatsApp),
    ]
}

fn direction() -> impl Strategy<Value = protocol::Direction> {
    prop_oneof![
        Just(protocol::Direction::Inbound),
        Just(protocol::Direction::Outbound)
    ]
}

fn customer_id() -> impl Strategy<Value = CustomerId> {
    prop_oneof![
        text().prop_map(CustomerId::Igsid),
        text().prop_map(CustomerId::InstagramUsername),
        text().prop_map(CustomerId::WhatsApp),
    ]
}

prop_compose! {
    fn customer()(id in customer_id(), username in opt_text(), name in opt_text()) -> Customer {
        Customer { id, username, name }
    }
}

// ---------------------------------------------------------------------------------------
// Inbound
// ---------------------------------------------------------------------------------------

fn attachment_kind() -> impl Strategy<Value = AttachmentKind> {
    prop_oneof![
        Just(AttachmentKind::Image),
        Just(AttachmentKind::Video),
        Just(AttachmentKind::Audio),
        Just(AttachmentKind::File),
        Just(AttachmentKind::Sticker),
        Just(AttachmentKind::Share),
        Just(AttachmentKind::StoryMention),
        Just(AttachmentKind::Story),
        Just(AttachmentKind::Reel),
        Just(AttachmentKind::Post),
        Just(AttachmentKind::Product),
        Just(AttachmentKind::Ephemeral),
        Just(AttachmentKind::LikeHeart),
        text().prop_map(AttachmentKind::Unsupported),
    ]
}

prop_compose! {
    fn attachment()(
        kind in attachment_kind(),
        (url, reference_id, title, caption) in (opt_text(), opt_text(), opt_text(), opt_text()),
        (filename, mime_type, sha256) in (opt_text(), opt_text(), opt_text()),
        voice in any::<bool>(),
        animated in any::<bool>(),
    ) -> Attachment {
        Attachment {
            kind,
            url,
            reference_id,
            title,
            caption,
            filename,
            mime_type,
            sha256,
            voice,
            animated,
        }
    }
}

fn reply_to() -> impl Strategy<Value = ReplyTo> {
    prop_oneof![
        text().prop_map(|mid| ReplyTo::Message { mid }),
        (opt_text(), opt_text()).prop_map(|(id, url)| ReplyTo::Story { id, url }),
    ]
}

fn forwarded() -> impl Strategy<Value = Forwarded> {
    prop_oneof![
        Just(Forwarded::No),
        Just(Forwarded::Forwarded),
        Just(Forwarded::FrequentlyForwarded),
    ]
}

prop_compose! {
    fn shared_contact()(
        name in opt_text(),
        phones in prop::collection::vec(text(), 0..4),
    ) -> SharedContact {
        SharedContact { name, phones }
    }
}

prop_compose! {
    fn order_item()(
        product_retailer_id in opt_text(),
        quantity in proptest::option::of(any::<u32>()),
        item_price in proptest::option::of(finite_f64()),
        currency in opt_text(),
    ) -> OrderItem {
        OrderItem { product_retailer_id, quantity, item_price, currency }
    }
}

fn structured() -> impl Strategy<Value = Structured> {
    prop_oneof![
        (
            finite_f64(),
            finite_f64(),
            opt_text(),
            opt_text(),
            opt_text()
        )
            .prop_map(
                |(latitude, longitude, name, address, url)| Structured::Location {
                    latitude,
                    longitude,
                    name,
                    address,
                    url,
                }
            ),
        prop::collection::vec(shared_contact(), 0..4)
            .prop_map(|contacts| Structured::Contacts { contacts }),
        (text(), opt_text(), opt_text(), opt_text(), opt_text()).prop_map(
            |(kind, id, title, description, response_json)| Structured::Interactive {
                kind,
                id,
                title,
                description,
                response_json,
            }
        ),
        (opt_text(), opt_text()).prop_map(|(text, payload)| Structured::Button { text, payload }),
        (
            opt_text(),
            opt_text(),
            prop::collection::vec(order_item(), 0..4)
        )
            .prop_map(|(catalog_id, text, items)| Structured::Order {
                catalog_id,
                text,
                items
            }),
        (opt_text(), opt_text(), opt_text()).prop_map(|(kind, body, new_wa_id)| {
            Structured::System {
                kind,
                body,
                new_wa_id,
            }
        }),
    ]
}

prop_compose! {
    fn provider_error()(
        code in proptest::option::of(any::<i64>()),
        title in opt_text(),
        message in opt_text(),
        details in opt_text(),
    ) -> ProviderError {
        ProviderError { code, title, message, details }
    }
}

prop_compose! {
    fn referral()(
        (reference, source, kind, ad_id, ad_title) in
            (opt_text(), opt_text(), opt_text(), opt_text(), opt_text()),
        (product_id, source_url, source_id, headline, body) in
            (opt_text(), opt_text(), opt_text(), opt_text(), opt_text()),
        (media_type, image_url, video_url, thumbnail_url, click_id) in
            (opt_text(), opt_text(), opt_text(), opt_text(), opt_text()),
    ) -> Referral {
        Referral {
            reference,
            source,
            kind,
            ad_id,
            ad_title,
            product_id,
            source_url,
            source_id,
            headline,
            body,
            media_type,
            image_url,
            video_url,
            thumbnail_url,
            click_id,
        }
    }
}

prop_compose! {
    fn message_body()(
        mid in text(),
        text in opt_text(),
        attachments in prop::collection::vec(attachment(), 0..4),
        reply_to in proptest::option::of(reply_to()),
        quick_reply in opt_text(),
        referral in proptest::option::of(referral()),
        (is_self, is_unsupported) in (any::<bool>(), any::<bool>()),
        forwarded in forwarded(),
        structured in proptest::option::of(structured()),
        errors in prop::collection::vec(provider_error(), 0..4),
    ) -> MessageBody {
        MessageBody {
            mid,
            text,
            attachments,
            reply_to,
            quick_reply,
            referral,
            is_self,
            is_unsupported,
            forwarded,
            structured,
            errors,
        }
    }
}

fn reaction_action() -> impl Strategy<Value = ReactionAction> {
    prop_oneof![Just(ReactionAction::React), Just(ReactionAction::Unreact)]
}

prop_compose! {
    fn reaction()(
        mid in text(),
        action in reaction_action(),
        reaction in opt_text(),
        emoji in opt_text(),
    ) -> Reaction {
        Reaction { mid, action, reaction, emoji }
    }
}

prop_compose! {
    fn edit()(
        mid in text(),
        text in opt_text(),
        num_edit in proptest::option::of(any::<u32>()),
    ) -> Edit {
        Edit { mid, text, num_edit }
    }
}

prop_compose! {
    fn postback()(
        mid in opt_text(),
        title in opt_text(),
        payload in opt_text(),
        referral in proptest::option::of(referral()),
    ) -> Postback {
        Postback { mid, title, payload, referral }
    }
}

prop_compose! {
    fn comment_media()(
        id in opt_text(),
        product_type in opt_text(),
        ad_id in opt_text(),
        ad_title in opt_text(),
        original_media_id in opt_text(),
    ) -> CommentMedia {
        CommentMedia { id, product_type, ad_id, ad_title, original_media_id }
    }
}

prop_compose! {
    fn comment()(
        id in text(),
        text in opt_text(),
        media in comment_media(),
        parent_id in opt_text(),
        live in any::<bool>(),
    ) -> Comment {
        Comment { id, text, media, parent_id, live }
    }
}

fn status_kind() -> impl Strategy<Value = StatusKind> {
    prop_oneof![
        Just(StatusKind::Sent),
        Just(StatusKind::Delivered),
        Just(StatusKind::Read),
        Just(StatusKind::Failed),
        Just(StatusKind::Played),
        text().prop_map(StatusKind::Other),
    ]
}

prop_compose! {
    fn delivery_status()(
        message_id in text(),
        status in status_kind(),
        errors in prop::collection::vec(provider_error(), 0..4),
        (conversation_id, conversation_expires_at, conversation_origin) in
            (opt_text(), proptest::option::of(millis()), opt_text()),
        (pricing_category, pricing_model) in (opt_text(), opt_text()),
        billable in proptest::option::of(any::<bool>()),
        biz_opaque_callback_data in opt_text(),
    ) -> DeliveryStatus {
        DeliveryStatus {
            message_id,
            status,
            errors,
            conversation_id,
            conversation_expires_at,
            conversation_origin,
            pricing_category,
            pricing_model,
            billable,
            biz_opaque_callback_data,
        }
    }
}

fn inbound_kind() -> BoxedStrategy<InboundKind> {
    prop_oneof![
        message_body().boxed().prop_map(InboundKind::Message),
        reaction().prop_map(InboundKind::Reaction),
        edit().prop_map(InboundKind::Edit),
        text().prop_map(|mid| InboundKind::Deleted { mid }),
        (opt_text(), proptest::option::of(millis()))
            .prop_map(|(mid, watermark)| InboundKind::Read { mid, watermark }),
        postback().prop_map(InboundKind::Postback),
        referral().prop_map(InboundKind::Referral),
        comment().prop_map(InboundKind::Comment),
        delivery_status().prop_map(InboundKind::Status),
        text().prop_map(|raw| InboundKind::OptIn { raw }),
    ]
    .boxed()
}

prop_compose! {
    fn inbound_event()(
        channel_id in channel_id(),
        channel in channel(),
        thread in thread_id(),
        customer in customer(),
        direction in direction(),
        occurred_at in millis(),
        standby in any::<bool>(),
        kind in inbound_kind(),
    ) -> InboundEvent {
        InboundEvent { channel_id, channel, thread, customer, direction, occurred_at, standby, kind }
    }
}

// ---------------------------------------------------------------------------------------
// Events and frames
// ---------------------------------------------------------------------------------------

fn opt_i64() -> impl Strategy<Value = Option<i64>> {
    proptest::option::of(any::<i64>())
}

fn account_event_kind() -> impl Strategy<Value = AccountEventKind> {
    prop_oneof![
        (opt_text(), opt_text()).prop_map(|(media_id, comment_id)| AccountEventKind::Mention {
            media_id,
            comment_id
        }),
        (
            opt_text(),
            opt_i64(),
            opt_i64(),
            opt_i64(),
            opt_i64(),
            opt_i64(),
            opt_i64()
        )
            .prop_map(
                |(media_id, impressions, reach, taps_forward, taps_back, exits, replies)| {
                    AccountEventKind::StoryInsights {
                        media_id,
                        impressions,
                        reach,
                        taps_forward,
                        taps_back,
                        exits,
                        replies,
                    }
                }
            ),
        (text(), text())
            .prop_map(|(change, detail)| AccountEventKind::ChannelChanged { change, detail }),
    ]
}

prop_compose! {
    fn account_event()(
        channel_id in channel_id(),
        occurred_at in millis(),
        kind in account_event_kind(),
    ) -> AccountEvent {
        AccountEvent { channel_id, occurred_at, kind }
    }
}

prop_compose! {
    fn unknown_event()(
        channel_id in channel_id(),
        object in text(),
        kind in text(),
        raw in any::<String>(),
    ) -> UnknownEvent {
        UnknownEvent { channel_id, object, kind, raw }
    }
}

prop_compose! {
    fn draft()(
        version in any::<u32>(),
        text in text(),
        agent in proptest::option::of(agent_id()),
        basis in proptest::option::of((
            proptest::collection::vec(text(), 0..3),
            proptest::collection::vec(text(), 0..3),
            proptest::collection::vec(text(), 0..2),
        )),
    ) -> Draft {
        Draft {
            version,
            text,
            author: agent.map_or(DraftAuthor::Drafter, DraftAuthor::Agent),
            basis: basis.map(|(intents, facts, held)| Box::new(protocol::DraftBasis {
                intents,
                facts,
                held,
                source: "grounded".into(),
            })),
        }
    }
}

fn choice() -> impl Strategy<Value = Choice> {
    (text(), text()).prop_map(|(title, payload)| Choice { title, payload })
}

fn reply_content() -> BoxedStrategy<ReplyContent> {
    let media_kind = prop_oneof![
        Just(MediaKind::Image),
        Just(MediaKind::Video),
        Just(MediaKind::Audio),
        Just(MediaKind::File),
    ];
    let card = (
        text(),
        proptest::option::of(text()),
        proptest::option::of(text()),
        proptest::collection::vec(choice(), 0..3),
    )
        .prop_map(|(title, subtitle, image_url, buttons)| Card {
            title,
            subtitle,
            image_url,
            buttons,
        });
    let action = prop_oneof![
        Just(SenderAction::TypingOn),
        Just(SenderAction::TypingOff),
        Just(SenderAction::MarkSeen),
        (text(), text()).prop_map(|(mid, emoji)| SenderAction::React { mid, emoji }),
        text().prop_map(|mid| SenderAction::Unreact { mid }),
    ];
    prop_oneof![
        (media_kind, text(), proptest::option::of(text()))
            .prop_map(|(kind, url, caption)| ReplyContent::Media { kind, url, caption }),
        Just(ReplyContent::Heart),
        (text(), proptest::collection::vec(choice(), 0..4))
            .prop_map(|(text, options)| ReplyContent::QuickReplies { text, options }),
        (text(), proptest::collection::vec(choice(), 0..4))
            .prop_map(|(text, buttons)| ReplyContent::Buttons { text, buttons }),
        proptest::collection::vec(card, 0..3).prop_map(|cards| ReplyContent::Cards { cards }),
        (text(), text(), proptest::collection::vec(text(), 0..3)).prop_map(
            |(name, language, params)| ReplyContent::Template {
                name,
                language,
                params
            }
        ),
        text().prop_map(|text| ReplyContent::PrivateReply { text }),
        action.prop_map(ReplyContent::SenderAction),
        (text(), any::<bool>())
            .prop_map(|(comment_id, hidden)| ReplyContent::HideComment { comment_id, hidden }),
    ]
    .boxed()
}

fn desk_action() -> BoxedStrategy<DeskAction> {
    prop_oneof![
        Just(DeskAction::Claimed),
        Just(DeskAction::Released),
        draft().prop_map(|draft| DeskAction::DraftEdited { draft }),
        any::<u32>().prop_map(|version| DeskAction::DraftDiscarded { version }),
        (text(), proptest::option::of(any::<u32>())).prop_map(|(text, from_draft)| {
            DeskAction::ReplyQueued {
                text,
                from_draft,
                content: None,
                reply_to: None,
            }
        }),
        (text(), reply_content(), proptest::option::of(text())).prop_map(
            |(text, content, reply_to)| DeskAction::ReplyQueued {
                text,
                from_draft: None,
                content: Some(content),
                reply_to
            }
        ),
        Just(DeskAction::Resolved),
        Just(DeskAction::Reopened),
        seq().prop_map(|up_to| DeskAction::Read { up_to }),
        seq().prop_map(|send| DeskAction::SendRetried { send }),
        Just(DeskAction::DraftingResumed),
        (text(), proptest::collection::vec(text(), 0..3))
            .prop_map(|(reason, intents)| DeskAction::HandedOff { reason, intents }),
        seq().prop_map(|send| DeskAction::SendDiscarded { send }),
        (text(), any::<bool>())
            .prop_map(|(comment_id, hidden)| DeskAction::CommentHidden { comment_id, hidden }),
    ]
    .boxed()
}

prop_compose! {
    fn desk_event()(
        channel_id in channel_id(),
        thread in thread_id(),
        agent in agent_id(),
        key in proptest::option::of(text().prop_map(CommandKey)),
        action in desk_action(),
    ) -> DeskEvent {
        DeskEvent { channel_id, thread, agent, key, action }
    }
}

fn reply_kind() -> impl Strategy<Value = ReplyKind> {
    prop_oneof![
        Just(ReplyKind::Standard),
        Just(ReplyKind::HumanAgent),
        Just(ReplyKind::PrivateReply),
        Just(ReplyKind::PublicReply),
        Just(ReplyKind::WhatsAppFreeForm),
        Just(ReplyKind::WhatsAppTemplate),
    ]
}

fn send_status() -> BoxedStrategy<SendStatus> {
    let class = prop_oneof![
        Just(FailureClass::OutsideWindow),
        Just(FailureClass::RecipientUnavailable),
        Just(FailureClass::RateLimited),
        Just(FailureClass::TokenInvalid),
        Just(FailureClass::Permission),
        Just(FailureClass::Transient),
        Just(FailureClass::Permanent),
        Just(FailureClass::NoCredits),
    ];
    prop_oneof![
        (any::<u32>(), reply_kind())
            .prop_map(|(attempt, kind)| SendStatus::Sending { attempt, kind }),
        (text(), reply_kind(), any::<bool>()).prop_map(|(provider_id, kind, reconciled)| {
            SendStatus::Sent {
                provider_id,
                kind,
                reconciled,
            }
        }),
        (
            class,
            proptest::option::of(any::<i64>()),
            proptest::option::of(any::<i64>()),
            text(),
            proptest::option::of(any::<i64>().prop_map(Millis))
        )
            .prop_map(
                |(class, code, subcode, message, retry_at)| SendStatus::Failed {
                    failure: SendFailure {
                        class,
                        code,
                        subcode,
                        message
                    },
                    retry_at,
                }
            ),
    ]
    .boxed()
}

prop_compose! {
    fn outbox_event()(
        channel_id in channel_id(),
        thread in thread_id(),
        send in any::<u64>().prop_map(Seq),
        status in send_status(),
    ) -> OutboxEvent {
        OutboxEvent { channel_id, thread, send, status }
    }
}

fn event_body() -> BoxedStrategy<EventBody> {
    prop_oneof![
        3 => inbound_event().prop_map(EventBody::Inbound),
        1 => account_event().prop_map(EventBody::Account),
        1 => unknown_event().prop_map(EventBody::Unknown),
        1 => desk_event().prop_map(EventBody::Desk),
        1 => outbox_event().prop_map(EventBody::Outbox),
        1 => (any::<i64>(), any::<i64>())
            .prop_map(|(added, balance)| EventBody::Credits(CreditsEvent { added, balance })),
    ]
    .boxed()
}

fn command() -> BoxedStrategy<Command> {
    let t = thread_id;
    prop_oneof![
        t().prop_map(|thread| Command::Claim { thread }),
        t().prop_map(|thread| Command::Release { thread }),
        (t(), any::<u32>(), text()).prop_map(|(thread, base_version, text)| Command::EditDraft {
            thread,
            base_version,
            text
        }),
        (t(), any::<u32>()).prop_map(|(thread, version)| Command::ApproveDraft { thread, version }),
        (t(), any::<u32>()).prop_map(|(thread, version)| Command::DiscardDraft { thread, version }),
        (t(), text()).prop_map(|(thread, text)| Command::SendReply { thread, text }),
        (t(), reply_content(), proptest::option::of(text())).prop_map(
            |(thread, content, reply_to)| Command::SendMessage {
                thread,
                content,
                reply_to
            }
        ),
        (t(), seq()).prop_map(|(thread, send)| Command::RetrySend { thread, send }),
        t().prop_map(|thread| Command::ResumeDrafting { thread }),
        (t(), seq()).prop_map(|(thread, send)| Command::DiscardSend { thread, send }),
        t().prop_map(|thread| Command::Resolve { thread }),
        t().prop_map(|thread| Command::Reopen { thread }),
        (t(), seq()).prop_map(|(thread, up_to)| Command::MarkRead { thread, up_to }),
        (t(), text(), any::<bool>()).prop_map(|(thread, comment_id, hidden)| {
            Command::HideComment {
                thread,
                comment_id,
                hidden,
            }
        }),
    ]
    .boxed()
}

fn answer() -> BoxedStrategy<Answer> {
    let rejection = prop_oneof![
        proptest::option::of(draft()).prop_map(|current| Rejection::Conflict { current }),
        text().prop_map(|reason| Rejection::Forbidden { reason }),
        text().prop_map(|reason| Rejection::Invalid { reason }),
        text().prop_map(|reason| Rejection::OutsideWindow { reason }),
        Just(Rejection::NoCredits),
    ];
    prop_oneof![
        seq().prop_map(|seq| Answer::Applied { seq }),
        rejection.prop_map(|rejection| Answer::Rejected { rejection }),
    ]
    .boxed()
}

prop_compose! {
    fn event()(
        tenant in tenant_id(),
        seq in seq(),
        received_at in millis(),
        body in event_body(),
    ) -> Event {
        Event { tenant, seq, received_at, body }
    }
}

fn role() -> impl Strategy<Value = Role> {
    prop_oneof![Just(Role::Agent), Just(Role::Owner)]
}

fn client_frame() -> impl Strategy<Value = ClientFrame> {
    prop_oneof![
        (any::<u16>(), any::<u64>())
            .prop_map(|(protocol, cursor)| ClientFrame::Hello { protocol, cursor }),
        (text().prop_map(CommandKey), command())
            .prop_map(|(key, command)| ClientFrame::Command { key, command }),
    ]
}

fn client_tag(frame: &ClientFrame) -> &'static str {
    match frame {
        ClientFrame::Hello { .. } => "hello",
        ClientFrame::Command { .. } => "command",
    }
}

fn server_frame() -> impl Strategy<Value = ServerFrame> {
    prop_oneof![
        (
            any::<u16>(),
            tenant_id(),
            agent_id(),
            role(),
            (text(), text()),
            seq(),
            any::<i64>()
        )
            .prop_map(
                |(protocol, tenant, agent, role, (brand, tenant_name), head, credits)| {
                    ServerFrame::Welcome {
                        protocol,
                        tenant,
                        agent,
                        role,
                        brand,
                        tenant_name,
                        head,
                        credits,
                    }
                }
            ),
        event().prop_map(|event| ServerFrame::Event { event }),
        (text().prop_map(CommandKey), answer())
            .prop_map(|(key, answer)| ServerFrame::Answer { key, answer }),
    ]
}

/// The `"type"` tag a frame must carry in its JSON form.
fn server_tag(frame: &ServerFrame) -> &'static str {
    match frame {
        ServerFrame::Welcome { .. } => "welcome",
        ServerFrame::Event { .. } => "event",
        ServerFrame::Answer { .. } => "answer",
    }
}

/// Parses an encoded JSON frame and returns its `"type"` tag, checking it is a string at
/// the top level of an object.
fn json_tag(text: &str) -> String {
    let value: Value = serde_json::from_str(text).unwrap();
    let Value::Object(map) = value else {
        panic!("a JSON frame must be an object: {text}");
    };
    match map.get("type") {
        Some(Value::String(tag)) => tag.clone(),
        other => panic!("bad \"type\" tag {other:?} in {text}"),
    }
}

fn binary_roundtrip<T: Serialize + DeserializeOwned>(value: &T) -> T {
    decode_binary(&encode_binary(value).unwrap()).unwrap()
}

fn json_roundtrip<T: Serialize + DeserializeOwned>(value: &T) -> T {
    decode_json(&encode_json(value).unwrap()).unwrap()
}

// ---------------------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------------------

proptest! {
    // Failures are reported with their minimal input but not written to a regressions file
    // next to this test; pin an interesting case as a plain #[test] below instead.
    #![proptest_config(ProptestConfig {
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    // 1. bincode round trips.

    #[test]
    fn binary_roundtrip_event(ev in event()) {
        let bytes = encode_binary(&ev).unwrap();
        prop_assert_eq!(decode_binary::<Event>(&bytes).unwrap(), ev);
    }

    #[test]
    fn binary_roundtrip_server_frame(frame in server_frame()) {
        let bytes = encode_binary(&frame).unwrap();
        prop_assert_eq!(decode_binary::<ServerFrame>(&bytes).unwrap(), frame);
    }

    #[test]
    fn binary_roundtrip_client_frame(frame in client_frame()) {
        let bytes = encode_binary(&frame).unwrap();
        prop_assert_eq!(decode_binary::<ClientFrame>(&bytes).unwrap(), frame);
    }

    /// Every id newtype and the plain scalar wrappers round-trip on their own too (ids are
    /// also storage keys, outside any frame).
    #[test]
    fn binary_and_json_roundtrip_ids(
        tenant in tenant_id(),
        partner in partner_id(),
        channel in channel_id(),
        thread in thread_id(),
        message in message_id(),
        draft in draft_id(),
        agent in agent_id(),
        seq in seq(),
        at in millis(),
        customer in customer(),
    ) {
        let all = (tenant, partner, channel, thread, message, draft, agent, seq, at, customer);
        prop_assert_eq!(&binary_roundtrip(&all), &all);
        prop_assert_eq!(&json_roundtrip(&all), &all);
        // Transparent newtypes: each id is a bare JSON string.
        let ids = serde_json::to_value(&all.0).unwrap();
        prop_assert_eq!(ids, Value::String(all.0.0.clone()));
    }

    // 2. Plain JSON round trip.

    #[test]
    fn json_roundtrip_event(ev in event()) {
        let json = encode_json(&ev).unwrap();
        let back = decode_json::<Event>(&json);
        prop_assert!(back.is_ok(), "decode failed: {:?}\njson: {}", back, json);
        prop_assert_eq!(back.unwrap(), ev, "json: {}", json);
    }

    // 3. Tagged JSON frames.

    #[test]
    fn json_frame_roundtrip_client(frame in client_frame()) {
        let json = encode_json_frame(&frame).unwrap();
        prop_assert_eq!(json_tag(&json), client_tag(&frame));
        prop_assert_eq!(decode_json_frame::<ClientFrame>(&json).unwrap(), frame);
    }

    #[test]
    fn json_frame_roundtrip_server(frame in server_frame()) {
        let json = encode_json_frame(&frame).unwrap();
        prop_assert_eq!(json_tag(&json), server_tag(&frame));
        let back = decode_json_frame::<ServerFrame>(&json);
        prop_assert!(back.is_ok(), "decode failed: {:?}\njson: {}", back, json);
        prop_assert_eq!(back.unwrap(), frame, "json: {}", json);
    }

    // 4. Hostile input never panics.

    #[test]
    fn decode_binary_arbitrary_bytes_never_panics(
        bytes in prop::collection::vec(any::<u8>(), 0..512),
    ) {
        let _ = decode_binary::<Event>(&bytes);
        let _ = decode_binary::<ServerFrame>(&bytes);
        let _ = decode_binary::<ClientFrame>(&bytes);
    }

    /// Random bytes rarely get past the first enum tag; corrupting a valid encoding reaches
    /// the decoder's deeper paths (lengths, strings, options, floats).
    #[test]
    fn decode_binary_corrupted_frame_never_panics(
        frame in server_frame(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut bytes = encode_binary(&frame).unwrap();
        for (at, byte) in edits {
            let i = at.index(bytes.len());
            bytes[i] = byte;
        }
        let _ = decode_binary::<ServerFrame>(&bytes);
        let cut = cut.index(bytes.len() + 1);
        let _ = decode_binary::<ServerFrame>(&bytes[..cut]);
    }

    #[test]
    fn decode_json_frame_arbitrary_text_never_panics(text in any::<String>()) {
        let _ = decode_json_frame::<ClientFrame>(&text);
        let _ = decode_json_frame::<ServerFrame>(&text);
    }

    /// Arbitrary text seldom parses as JSON at all; JSON-shaped text with a real tag reaches
    /// the field decoding.
    #[test]
    fn decode_json_frame_json_shaped_text_never_panics(
        tag in prop_oneof![Just("hello"), Just("welcome"), Just("event"), Just("nope")],
        body in "[{}\\[\\]\",:0-9a-z \\-\\.]{0,40}",
    ) {
        let text = format!("{{\"type\":\"{tag}\",{body}");
        let _ = decode_json_frame::<ClientFrame>(&text);
        let _ = decode_json_frame::<ServerFrame>(&text);
    }

    // 5. Trailing bytes are rejected.

    #[test]
    fn decode_binary_rejects_trailing_bytes(
        frame in server_frame(),
        client in client_frame(),
        extra in any::<u8>(),
    ) {
        let mut bytes = encode_binary(&frame).unwrap();
        bytes.push(extra);
        let res = decode_binary::<ServerFrame>(&bytes);
        prop_assert!(matches!(res, Err(CodecError::TrailingBytes(1))), "{:?}", res);

        let mut bytes = encode_binary(&client).unwrap();
        bytes.push(extra);
        let res = decode_binary::<ClientFrame>(&bytes);
        prop_assert!(matches!(res, Err(CodecError::TrailingBytes(1))), "{:?}", res);
    }
}

// ---------------------------------------------------------------------------------------
// Fixed wire texts
// ---------------------------------------------------------------------------------------

/// The hello from the design contract: `protocol` may be omitted and defaults to ours.
#[test]
fn contract_hello_defaults_protocol() {
    let frame: ClientFrame = decode_json_frame(r#"{"type":"hello","cursor":0}"#).unwrap();
    assert_eq!(
        frame,
        ClientFrame::Hello {
            protocol: PROTOCOL_VERSION,
            cursor: 0
        }
    );
}

#[test]
fn hello_with_explicit_protocol() {
    let frame: ClientFrame =
        decode_json_frame(r#"{"type":"hello","protocol":7,"cursor":12}"#).unwrap();
    assert_eq!(
        frame,
        ClientFrame::Hello {
            protocol: 7,
            cursor: 12
        }
    );
}

#[test]
fn frame_without_type_is_missing_type() {
    let res = decode_json_frame::<ClientFrame>(r#"{"cursor":0}"#);
    assert!(matches!(res, Err(CodecError::MissingType)), "{res:?}");
}

#[test]
fn frame_with_non_string_type_is_missing_type() {
    let res = decode_json_frame::<ClientFrame>(r#"{"type":1,"cursor":0}"#);
    assert!(matches!(res, Err(CodecError::MissingType)), "{res:?}");
}

#[test]
fn frame_with_unknown_type_is_json_decode_error() {
    let res = decode_json_frame::<ClientFrame>(r#"{"type":"nope"}"#);
    assert!(matches!(res, Err(CodecError::JsonDecode(_))), "{res:?}");
}

#[test]
fn frame_that_is_not_an_object_is_json_decode_error() {
    for text in [r#"["hello"]"#, r#""hello""#, "0", "null", "", "{"] {
        let res = decode_json_frame::<ClientFrame>(text);
        assert!(
            matches!(res, Err(CodecError::JsonDecode(_))),
            "{text:?}: {res:?}"
        );
    }
}

/// Pins the JSON wire form of a welcome. If this fails, the wire format changed: bump
/// `PROTOCOL_VERSION` and update the desk, not just this text.
#[test]
fn welcome_json_wire_format() {
    let frame = ServerFrame::Welcome {
        protocol: 3,
        tenant: TenantId::new("t_acme"),
        agent: AgentId::new("a_zoë"),
        role: Role::Owner,
        brand: "Agency Desk".into(),
        tenant_name: "Acme Café".into(),
        head: Seq(42),
        credits: 7,
    };
    let expected = r#"{"agent":"a_zoë","brand":"Agency Desk","credits":7,"head":42,"protocol":3,"role":"owner","tenant":"t_acme","tenant_name":"Acme Café","type":"welcome"}"#;
    assert_eq!(encode_json_frame(&frame).unwrap(), expected);
    assert_eq!(decode_json_frame::<ServerFrame>(expected).unwrap(), frame);
}

/// Pins the JSON wire form of a hello as the relay would echo it.
#[test]
fn hello_json_wire_format() {
    let frame = ClientFrame::Hello {
        protocol: PROTOCOL_VERSION,
        cursor: 3,
    };
    assert_eq!(
        encode_json_frame(&frame).unwrap(),
        r#"{"cursor":3,"protocol":5,"type":"hello"}"#
    );
}

/// Pins the bincode form of a welcome (variant index, varint integers, length-prefixed
/// strings), so a change of bincode configuration is noticed.
#[test]
fn welcome_binary_wire_format() {
    let frame = ServerFrame::Welcome {
        protocol: 3,
        tenant: TenantId::new("t"),
        agent: AgentId::new("a"),
        role: Role::Agent,
        brand: "b".into(),
        tenant_name: "n".into(),
        head: Seq(300),
        credits: -1,
    };
    let bytes = encode_binary(&frame).unwrap();
    // Signed integers are zig-zag varints: -1 is 1.
    assert_eq!(
        bytes,
        [0, 3, 1, b't', 1, b'a', 0, 1, b'b', 1, b'n', 251, 44, 1, 1]
    );
    assert_eq!(decode_binary::<ServerFrame>(&bytes).unwrap(), frame);
}

#[test]
fn empty_binary_is_an_error() {
    assert!(matches!(
        decode_binary::<Event>(&[]),
        Err(CodecError::BinaryDecode(_))
    ));
    assert!(matches!(
        decode_binary::<ClientFrame>(&[]),
        Err(CodecError::BinaryDecode(_))
    ));
}

/// A length prefix claiming far more than `MAX_BINARY_LEN` must fail fast instead of
/// allocating: `ServerFrame::Welcome` then a tenant string of length u64::MAX.
#[test]
fn huge_length_prefix_is_rejected() {
    let mut bytes = vec![0u8, 1, 253];
    bytes.extend_from_slice(&u64::MAX.to_le_bytes());
    bytes.extend_from_slice(b"tail");
    assert!(decode_binary::<ServerFrame>(&bytes).is_err());
}

/// JSON must carry every finite `f64` exactly (WhatsApp order prices, locations). serde_json
/// prints the shortest representation that round-trips, but without its `float_roundtrip`
/// feature it parses 17-digit decimals with a fast, not correctly rounded algorithm: this
/// price came back one ULP off (`210809203.7813241`), found by `json_roundtrip_event`.
#[test]
fn json_keeps_f64_exact() {
    let price = 210_809_203.781_324_06_f64;
    let event = Event {
        tenant: TenantId::new("t"),
        seq: Seq(1),
        received_at: Millis(0),
        body: EventBody::Inbound(InboundEvent {
            channel_id: ChannelId::new("c"),
            channel: Channel::WhatsApp,
            thread: ThreadId::new("th"),
            customer: Customer::new(CustomerId::WhatsApp("5511999999999".into())),
            direction: protocol::Direction::Inbound,
            occurred_at: Millis(0),
            standby: false,
            kind: InboundKind::Message(MessageBody {
                mid: "wamid.1".into(),
                structured: Some(Structured::Order {
                    catalog_id: None,
                    text: None,
                    items: vec![OrderItem {
                        product_retailer_id: None,
                        quantity: Some(1),
                        item_price: Some(price),
                        currency: Some("BRL".into()),
                    }],
                }),
                ..MessageBody::default()
            }),
        }),
    };
    let json = encode_json(&event).unwrap();
    assert!(json.contains("210809203.78132406"), "{json}");
    assert_eq!(
        decode_json::<Event>(&json).unwrap(),
        event,
        "plain JSON: {json}"
    );

    let frame = ServerFrame::Event { event };
    let json = encode_json_frame(&frame).unwrap();
    assert_eq!(
        decode_json_frame::<ServerFrame>(&json).unwrap(),
        frame,
        "frame JSON: {json}"
    );
}

/// Pins the JSON wire form of a command, as scripts write it.
#[test]
fn command_json_wire_format() {
    let text = r#"{"type":"command","key":"k-1","command":{"edit_draft":{"thread":"th_1","base_version":2,"text":"Hi ✨"}}}"#;
    let frame: ClientFrame = decode_json_frame(text).unwrap();
    assert_eq!(
        frame,
        ClientFrame::Command {
            key: CommandKey::new("k-1"),
            command: Command::EditDraft {
                thread: ThreadId::new("th_1"),
                base_version: 2,
                text: "Hi ✨".into(),
            },
        }
    );
}

/// A frame cannot smuggle a tenant (or anything else) past the decoder: unknown fields are
/// refused, in the frame and inside a command.
#[test]
fn unknown_fields_are_refused() {
    for text in [
        r#"{"type":"hello","cursor":0,"tenant":"tn_other"}"#,
        r#"{"type":"command","key":"k","command":{"claim":{"thread":"th","tenant":"tn_other"}}}"#,
        r#"{"type":"command","key":"k","tenant":"tn_other","command":{"claim":{"thread":"th"}}}"#,
    ] {
        let res = decode_json_frame::<ClientFrame>(text);
        assert!(
            matches!(&res, Err(CodecError::JsonDecode(e)) if e.contains("tenant")),
            "{text}: {res:?}"
        );
    }
}
