COMMENT
xkkdr: Hodgkin-Huxley delayed-rectifier potassium current (xkernels; written here from
the published equations).

    ik = gbar * n^4 * (v - ek)                                (mA/cm2)

Rate functions (1/ms, v in mV) of Hodgkin & Huxley (1952), J Physiol 117:500-544,
eqs. 12-13, in the absolute-potential convention with rest at -65 mV (Dayan & Abbott
2001, ch. 5.6):

    alpha_n = 0.01 (v + 55) / (1 - exp(-(v + 55) / 10))    beta_n = 0.125 exp(-(v + 65) / 80)

Measured at 6.3 degC; scaled by q10 = 3 per 10 degC for other values of `celsius`.
The removable singularity of alpha_n at v = -55 mV is evaluated by its series expansion.
ENDCOMMENT

NEURON {
    SUFFIX xkkdr
    USEION k READ ek WRITE ik
    RANGE gbar, g, ik
    RANGE ninf, ntau
}

UNITS {
    (mA) = (milliamp)
    (mV) = (millivolt)
    (S) = (siemens)
}

PARAMETER {
    gbar = 0.036 (S/cm2) <0, 1e9>
}

ASSIGNED {
    v (mV)
    ek (mV)
    celsius (degC)
    ik (mA/cm2)
    g (S/cm2)
    ninf
    ntau (ms)
}

STATE {
    n
}

INITIAL {
    rates(v)
    n = ninf
}

BREAKPOINT {
    SOLVE gates METHOD cnexp
    g = gbar * n * n * n * n
    ik = g * (v - ek)
}

DERIVATIVE gates {
    rates(v)
    n' = (ninf - n) / ntau
}

FUNCTION xkkdr_exprel(x) {
    : x / (1 - exp(-x)), continuous at x = 0
    if (fabs(x) < 1e-6) {
        xkkdr_exprel = 1 + x / 2
    } else {
        xkkdr_exprel = x / (1 - exp(-x))
    }
}

PROCEDURE rates(v (mV)) {
    LOCAL an, bn, q
    UNITSOFF
    q = 3 ^ ((celsius - 6.3) / 10)
    an = 0.1 * xkkdr_exprel((v + 55) / 10)
    bn = 0.125 * exp(-(v + 65) / 80)
    ninf = an / (an + bn)
    ntau = 1 / (q * (an + bn))
    UNITSON
}
