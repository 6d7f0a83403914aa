//! Black-76: European options on a forward. NSE index options are European and premium-paid,
//! so an option is priced from its future (or a synthetic forward from put-call parity) and
//! discounted at `rate` for the premium paid today. Used by the synthetic market to quote,
//! by OptionsRanker to read implied volatility from a mid, and by risk for delta.
//!
//! The normal CDF is Hart's double-precision algorithm as given by West (2005), "Better
//! approximations to cumulative normal functions" (about 1e-15 absolute), so a price → IV →
//! price round trip closes to well under a paisa.

/// What a contract is, for the pricing functions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OptionKind {
    Call,
    Put,
}

/// The inputs that do not change while solving: forward, strike, years to expiry, rate.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Black76 {
    pub forward: f64,
    pub strike: f64,
    /// Years to expiry (calendar days / 365).
    pub years: f64,
    /// Continuously compounded rate for discounting the premium.
    pub rate: f64,
    pub kind: OptionKind,
}

/// Why a quote yields no implied volatility.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IvError {
    /// Zero, negative or non-finite inputs (no quote, expired, bad forward).
    BadInput,
    /// Below the discounted intrinsic value: no volatility prices it.
    BelowIntrinsic,
    /// At or above the discounted forward (call) or strike (put): no volatility prices it.
    AboveMaximum,
    /// The solver did not converge (never seen on sane inputs; counted, not trusted).
    NoConvergence,
}

impl IvError {
    pub fn as_str(self) -> &'static str {
        match self {
            IvError::BadInput => "zero or missing input",
            IvError::BelowIntrinsic => "price below intrinsic value",
            IvError::AboveMaximum => "price above the no-arbitrage maximum",
            IvError::NoConvergence => "implied volatility did not converge",
        }
    }
}

/// Standard normal CDF (Hart 1968 / West 2005).
pub fn norm_cdf(x: f64) -> f64 {
    let xabs = x.abs();
    let c = if xabs > 37.0 {
        0.0
    } else {
        let e = (-xabs * xabs / 2.0).exp();
        if xabs < 7.071_067_811_865_47 {
            let mut b = 3.526_249_659_989_11e-2 * xabs + 0.700_383_064_443_688;
            b = b * xabs + 6.373_962_203_531_65;
            b = b * xabs + 33.912_866_078_383;
            b = b * xabs + 112.079_291_497_871;
            b = b * xabs + 221.213_596_169_931;
            b = b * xabs + 220.206_867_912_376;
            let num = e * b;
            let mut d = 8.838_834_764_831_84e-2 * xabs + 1.755_667_163_182_64;
            d = d * xabs + 16.064_177_579_207;
            d = d * xabs + 86.780_732_202_946_1;
            d = d * xabs + 296.564_248_779_674;
            d = d * xabs + 637.333_633_378_831;
            d = d * xabs + 793.826_512_519_948;
            d = d * xabs + 440.413_735_824_752;
            num / d
        } else {
            let mut b = xabs + 0.65;
            b = xabs + 4.0 / b;
            b = xabs + 3.0 / b;
            b = xabs + 2.0 / b;
            b = xabs + 1.0 / b;
            e / b / 2.506_628_274_631
        }
    };
    if x > 0.0 {
        1.0 - c
    } else {
        c
    }
}

fn norm_pdf(x: f64) -> f64 {
    (-0.5 * x * x).exp() / (2.0 * std::f64::consts::PI).sqrt()
}

impl Black76 {
    fn discount(&self) -> f64 {
        (-self.rate * self.years).exp()
    }
    fn d1_d2(&self, vol: f64) -> (f64, f64) {
        let sd = vol * self.years.sqrt();
        let d1 = ((self.forward / self.strike).ln() + 0.5 * sd * sd) / sd;
        (d1, d1 - sd)
    }
    fn valid(&self) -> bool {
        self.forward.is_finite()
            && self.strike.is_finite()
            && self.forward > 0.0
            && self.strike > 0.0
            && self.years > 0.0
            && self.rate.is_finite()
    }

    /// Premium for annualised volatility `vol`.
    pub fn price(&self, vol: f64) -> f64 {
        let df = self.discount();
        if vol <= 0.0 || self.years <= 0.0 {
            return df * self.intrinsic();
        }
        let (d1, d2) = self.d1_d2(vol);
        match self.kind {
            OptionKind::Call => df * (self.forward * norm_cdf(d1) - self.strike * norm_cdf(d2)),
            OptionKind::Put => df * (self.strike * norm_cdf(-d2) - self.forward * norm_cdf(-d1)),
        }
    }

    fn intrinsic(&self) -> f64 {
        match self.kind {
            OptionKind::Call => (self.forward - self.strike).max(0.0),
            OptionKind::Put => (self.strike - self.forward).max(0.0),
        }
    }

    /// dPremium/dForward.
    pub fn delta(&self, vol: f64) -> f64 {
        let df = self.discount();
        if vol <= 0.0 || self.years <= 0.0 {
            let itm = match self.kind {
                OptionKind::Call => self.forward > self.strike,
                OptionKind::Put => self.forward < self.strike,
            };
            let one = if itm { 1.0 } else { 0.0 };
            return match self.kind {
                OptionKind::Call => df * one,
                OptionKind::Put => -df * one,
            };
        }
        let (d1, _) = self.d1_d2(vol);
        match self.kind {
            OptionKind::Call => df * norm_cdf(d1),
            OptionKind::Put => -df * norm_cdf(-d1),
        }
    }

    /// dPremium/dVol (per 1.00 of volatility).
    pub fn vega(&self, vol: f64) -> f64 {
        let (d1, _) = self.d1_d2(vol);
        self.discount() * self.forward * norm_pdf(d1) * self.years.sqrt()
    }

    /// The volatility whose price is `premium`: Newton steps kept inside a bisection
    /// bracket, so it always converges on a price inside the no-arbitrage bounds.
    pub fn implied_vol(&self, premium: f64) -> Result<f64, IvError> {
        if !self.valid() || !premium.is_finite() || premium <= 0.0 {
            return Err(IvError::BadInput);
        }
        let df = self.discount();
        let lower = df * self.intrinsic();
        let upper = df
            * match self.kind {
                OptionKind::Call => self.forward,
                OptionKind::Put => self.strike,
            };
        if premium <= lower {
            return Err(IvError::BelowIntrinsic);
        }
        if premium >= upper {
            return Err(IvError::AboveMaximum);
        }
        let (mut lo, mut hi) = (1e-6, 10.0);
        if self.price(hi) < premium {
            return Err(IvError::AboveMaximum);
        }
        // Brenner-Subrahmanyam's at-the-money guess, kept inside the bracket.
        let mut vol = (premium / (df * self.forward)
            * (2.0 * std::f64::consts::PI / self.years).sqrt())
        .clamp(0.01, 3.0);
        for _ in 0..100 {
            let diff = self.price(vol) - premium;
            if diff.abs() < 1e-13 * self.forward.max(1.0) {
                return Ok(vol);
            }
            if diff > 0.0 {
                hi = vol;
            } else {
                lo = vol;
            }
            let vega = self.vega(vol);
            let newton = vol - diff / vega;
            vol = if vega > 1e-12 && newton > lo && newton < hi {
                newton
            } else {
                0.5 * (lo + hi)
            };
            if hi - lo < 1e-12 {
                return Ok(vol);
            }
        }
        Err(IvError::NoConvergence)
    }
}

/// Years from `now` to an expiry instant, both epoch seconds (calendar time / 365 days).
pub fn years_between(now: i64, expiry: i64) -> f64 {
    (expiry - now) as f64 / (365.0 * 86_400.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opt(f: f64, k: f64, t: f64, kind: OptionKind) -> Black76 {
        Black76 {
            forward: f,
            strike: k,
            years: t,
            rate: 0.065,
            kind,
        }
    }

    #[test]
    fn cdf_matches_published_values() {
        // Abramowitz & Stegun table 26.1 / any statistics table.
        for (x, want) in [
            (0.0, 0.5),
            (1.0, 0.841_344_746_068_542_9),
            (-1.96, 0.024_997_895_148_220_43),
            (2.5, 0.993_790_334_674_223_8),
            (-8.0, 6.220_960_574_271_819e-16),
        ] {
            let got = norm_cdf(x);
            assert!((got - want).abs() < 1e-14, "N({x}) = {got}, want {want}");
        }
    }

    /// F=620, K=600, T=0.5, r=5%, vol 20%: d1 = 0.302570, d2 = 0.161148,
    /// C = e^-0.025 (620 N(d1) - 600 N(d2)) = 44.186853 (worked with Python's math.erfc).
    #[test]
    fn call_matches_hand_worked_value() {
        let c = Black76 {
            forward: 620.0,
            strike: 600.0,
            years: 0.5,
            rate: 0.05,
            kind: OptionKind::Call,
        };
        let got = c.price(0.20);
        assert!((got - 44.186_853_312).abs() < 1e-8, "{got}");
    }

    #[test]
    fn put_call_parity_holds() {
        for &(f, k, t, v) in &[
            (26_000.0, 26_000.0, 7.0 / 365.0, 0.13),
            (26_000.0, 25_500.0, 0.1, 0.18),
            (59_000.0, 60_000.0, 0.3, 0.16),
            (1_500.0, 1_200.0, 0.02, 0.5),
        ] {
            let c = opt(f, k, t, OptionKind::Call);
            let p = opt(f, k, t, OptionKind::Put);
            let lhs = c.price(v) - p.price(v);
            let rhs = (-0.065 * t).exp() * (f - k);
            assert!((lhs - rhs).abs() < 1e-8 * f, "{f} {k} {t}: {lhs} vs {rhs}");
            // Deltas differ by the discount factor.
            assert!((c.delta(v) - p.delta(v) - (-0.065 * t).exp()).abs() < 1e-12);
        }
    }

    #[test]
    fn price_to_iv_round_trips() {
        let mut worst: f64 = 0.0;
        for &kind in &[OptionKind::Call, OptionKind::Put] {
            for k in (24_000..=28_000).step_by(250) {
                for &t in &[0.5 / 365.0, 2.0 / 365.0, 7.0 / 365.0, 30.0 / 365.0, 0.5] {
                    for &v in &[0.05, 0.12, 0.25, 0.6, 1.5] {
                        let o = opt(26_000.0, k as f64, t, kind);
                        let px = o.price(v);
                        // Below a paisa of premium the price carries no volatility information.
                        if px < 0.05 || px - (-0.065 * t).exp() * o.intrinsic() < 0.01 {
                            continue;
                        }
                        let iv = o.implied_vol(px).unwrap();
                        let back = o.price(iv);
                        worst = worst.max((back - px).abs());
                        assert!(
                            (back - px).abs() < 1e-6,
                            "{kind:?} {k} {t} {v}: {px} -> {iv}"
                        );
                    }
                }
            }
        }
        assert!(worst < 1e-6);
    }

    #[test]
    fn impossible_quotes_yield_no_iv() {
        let c = opt(26_000.0, 25_000.0, 7.0 / 365.0, OptionKind::Call);
        assert_eq!(c.implied_vol(0.0), Err(IvError::BadInput));
        assert_eq!(c.implied_vol(f64::NAN), Err(IvError::BadInput));
        assert_eq!(c.implied_vol(900.0), Err(IvError::BelowIntrinsic));
        assert_eq!(c.implied_vol(26_000.0), Err(IvError::AboveMaximum));
        let expired = opt(26_000.0, 25_000.0, 0.0, OptionKind::Call);
        assert_eq!(expired.implied_vol(1000.0), Err(IvError::BadInput));
        let no_forward = opt(0.0, 25_000.0, 0.1, OptionKind::Put);
        assert_eq!(no_forward.implied_vol(100.0), Err(IvError::BadInput));
    }
}
