COMMENT
xkih: hyperpolarisation-activated cation current I_h (xkernels; written here from the
published equations).

    ihcn = gbar * m * (v - eh)                                (mA/cm2)

One activation gate with the rate functions fitted by Kole, Hallermann & Stuart (2006),
J Neurosci 26(6):1677-1687, to I_h of layer-5 pyramidal neurons (recorded at 34 degC;
no temperature scaling is applied), the kinetics also used in the L5 pyramidal-cell
model of Hay et al. (2011), PLoS Comput Biol 7(7):e1002107:

    alpha_m = 0.001 * 6.43 * (v + 154.9) / (exp((v + 154.9) / 11.9) - 1)    (1/ms)
    beta_m  = 0.001 * 193 * exp(v / 33.1)                                    (1/ms)

with the reversal potential eh = -45 mV (Kole et al. 2006). The removable singularity
of alpha_m at v = -154.9 mV is evaluated by its series expansion.
ENDCOMMENT

NEURON {
    SUFFIX xkih
    NONSPECIFIC_CURRENT ihcn
    RANGE gbar, g, eh, ihcn
    RANGE minf, mtau
}

UNITS {
    (mA) = (milliamp)
    (mV) = (millivolt)
    (S) = (siemens)
}

PARAMETER {
    gbar = 0.0001 (S/cm2) <0, 1e9>
    eh = -45 (mV)
}

ASSIGNED {
    v (mV)
    ihcn (mA/cm2)
    g (S/cm2)
    minf
    mtau (ms)
}

STATE {
    m
}

INITIAL {
    rates(v)
    m = minf
}

BREAKPOINT {
    SOLVE gates METHOD cnexp
    g = gbar * m
    ihcn = g * (v - eh)
}

DERIVATIVE gates {
    rates(v)
    m' = (minf - m) / mtau
}

FUNCTION xkih_exprel(x) {
    : x / (exp(x) - 1), continuous at x = 0
    if (fabs(x) < 1e-6) {
        xkih_exprel = 1 - x / 2
    } else {
        xkih_exprel = x / (exp(x) - 1)
    }
}

PROCEDURE rates(v (mV)) {
    LOCAL am, bm
    UNITSOFF
    am = 0.001 * 6.43 * 11.9 * xkih_exprel((v + 154.9) / 11.9)
    bm = 0.001 * 193 * exp(v / 33.1)
    minf = am / (am + bm)
    mtau = 1 / (am + bm)
    UNITSON
}
