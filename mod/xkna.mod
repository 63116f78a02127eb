COMMENT
xkna: Hodgkin-Huxley sodium current (xkernels; written here from the published equations).

    ina = gbar * m^3 * h * (v - ena)                          (mA/cm2)

Rate functions (1/ms, v in mV) of Hodgkin & Huxley (1952), J Physiol 117:500-544,
eqs. 20-21 and 23-24, with the membrane potential written as an absolute potential
and the resting potential at -65 mV (the convention of e.g. Dayan & Abbott 2001,
Theoretical Neuroscience, ch. 5.6):

    alpha_m = 0.1 (v + 40) / (1 - exp(-(v + 40) / 10))     beta_m = 4 exp(-(v + 65) / 18)
    alpha_h = 0.07 exp(-(v + 65) / 20)                       beta_h = 1 / (1 + exp(-(v + 35) / 10))

The rates are those measured at 6.3 degC; they are scaled by q10 = 3 per 10 degC
(Hodgkin & Huxley 1952) for other values of NEURON's `celsius`. The removable
singularity of alpha_m at v = -40 mV is evaluated by its series expansion.
ENDCOMMENT

NEURON {
    SUFFIX xkna
    USEION na READ ena WRITE ina
    RANGE gbar, g, ina
    RANGE minf, hinf, mtau, htau
}

UNITS {
    (mA) = (milliamp)
    (mV) = (millivolt)
    (S) = (siemens)
}

PARAMETER {
    gbar = 0.12 (S/cm2) <0, 1e9>
}

ASSIGNED {
    v (mV)
    ena (mV)
    celsius (degC)
    ina (mA/cm2)
    g (S/cm2)
    minf
    hinf
    mtau (ms)
    htau (ms)
}

STATE {
    m
    h
}

INITIAL {
    rates(v)
    m = minf
    h = hinf
}

BREAKPOINT {
    SOLVE gates METHOD cnexp
    g = gbar * m * m * m * h
    ina = g * (v - ena)
}

DERIVATIVE gates {
    rates(v)
    m' = (minf - m) / mtau
    h' = (hinf - h) / htau
}

FUNCTION xkna_exprel(x) {
    : x / (1 - exp(-x)), continuous at x = 0
    if (fabs(x) < 1e-6) {
        xkna_exprel = 1 + x / 2
    } else {
        xkna_exprel = x / (1 - exp(-x))
    }
}

PROCEDURE rates(v (mV)) {
    LOCAL am, bm, ah, bh, q
    UNITSOFF
    q = 3 ^ ((celsius - 6.3) / 10)
    am = xkna_exprel((v + 40) / 10)
    bm = 4 * exp(-(v + 65) / 18)
    ah = 0.07 * exp(-(v + 65) / 20)
    bh = 1 / (1 + exp(-(v + 35) / 10))
    minf = am / (am + bm)
    mtau = 1 / (q * (am + bm))
    hinf = ah / (ah + bh)
    htau = 1 / (q * (ah + bh))
    UNITSON
}
