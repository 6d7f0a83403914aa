//! The protective stop under random interleavings: whatever order ticks, fills, cancels,
//! engine exits and the kill switch reach the broker and the risk stage in, the position is
//! never reversed and both sides agree once the messages settle.

use super::*;

#[derive(Clone, Debug)]
pub(super) enum Step {
    Tick(i32),
    ToBroker,
    ToRisk,
    Second,
    Close,
    Flatten,
    Bar,
}

impl Desk {
    /// One step of a random interleaving.
    pub(super) fn step(&mut self, s: Step) {
        match s {
            Step::Tick(p) => self.tick(p),
            Step::ToBroker => {
                self.deliver_to_broker();
            }
            Step::ToRisk => {
                self.deliver_to_risk();
            }
            Step::Second => self.second(),
            Step::Close => self.risk_in(Event::Control(ControlCommand::ClosePosition {
                token: INFY,
            })),
            Step::Flatten => self.risk_in(Event::Control(ControlCommand::Flatten { request: 1 })),
            Step::Bar => self.risk_in(Event::Bar(BarStat {
                token: INFY,
                minutes: 1,
                high: Price(155_500),
                low: Price(154_500),
                close: Price(155_000),
                atr: Price(150),
                end_ts: self.now,
            })),
        }
    }
}

pub(super) fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        (153_000..158_000i32).prop_map(|p| Step::Tick(p / 10 * 10)),
        Just(Step::ToBroker),
        Just(Step::ToBroker),
        Just(Step::ToRisk),
        Just(Step::ToRisk),
        Just(Step::Second),
        Just(Step::Close),
        Just(Step::Flatten),
        Just(Step::Bar),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]
    /// Whatever order the stop's fills, the engine's exits, cancels and modifications reach
    /// each side in, the position is never reversed, at the broker or in the engine, and
    /// once the messages settle both agree.
    #[test]
    fn a_stop_fill_racing_engine_exits_never_reverses_the_position(
        steps in proptest::collection::vec(step(), 1..80)
    ) {
        let mut d = Desk::new(|_| {});
        let q = d.open_long();
        prop_assert!(q > 0);
        for s in steps {
            d.step(s);
            prop_assert!(d.broker_net() >= 0 && d.broker_net() <= q, "broker net {}", d.broker_net());
            prop_assert!(d.qty() >= 0 && d.qty() <= q, "engine qty {}", d.qty());
        }
        d.settle();
        prop_assert_eq!(d.broker_net(), d.qty());
        // At most one stop at the broker, and only while a position is held.
        prop_assert!(d.broker.working() <= 2);
    }
}
