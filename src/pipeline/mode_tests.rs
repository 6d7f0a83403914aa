//! POST /mode at the desk: risk switches where orders go only while flat, so no position or
//! working order is ever split across the paper broker and Kite.

use super::recovery::fresh;
use super::*;

/// Sends `SetMode` to risk: its reply and whether it told the order stage to switch.
fn set_mode(
    d: &mut Desk,
    replies: &crossbeam_channel::Receiver<ModeReport>,
    live: bool,
) -> (ModeOutcome, Vec<bool>) {
    let mut switched = Vec::new();
    let ev = Event::Control(ControlCommand::SetMode { request: 7, live });
    d.risk.on_slot(&Slot { ev, recv_ns: 0 }, &mut |s| {
        if let Event::Mode { live } = s.ev {
            switched.push(live);
        }
    });
    let report = replies.try_recv().expect("risk answers every SetMode");
    assert_eq!(report.request, 7);
    (report.outcome, switched)
}

fn desk_with_replies() -> (Desk, crossbeam_channel::Receiver<ModeReport>) {
    let mut d = Desk::new(|_| {});
    let (tx, rx) = crossbeam_channel::bounded(4);
    d.risk = fresh(&d).with_mode_replies(tx);
    (d, rx)
}

#[test]
fn a_switch_is_refused_while_a_position_and_its_stop_are_open() {
    let (mut d, replies) = desk_with_replies();
    assert!(d.open_long() > 0);
    let (outcome, switched) = set_mode(&mut d, &replies, true);
    // The long, and its protective stop working at the broker.
    assert_eq!(
        outcome,
        ModeOutcome::NotFlat {
            positions: 1,
            orders: 1
        }
    );
    assert!(switched.is_empty(), "the order stage was told to switch");
}

#[test]
fn a_flat_desk_switches_once_and_back() {
    let (mut d, replies) = desk_with_replies();
    assert_eq!(
        set_mode(&mut d, &replies, true),
        (ModeOutcome::Switched, vec![true])
    );
    assert_eq!(
        set_mode(&mut d, &replies, true),
        (ModeOutcome::Unchanged, vec![])
    );
    assert_eq!(
        set_mode(&mut d, &replies, false),
        (ModeOutcome::Switched, vec![false])
    );
}
