COMMENT
Slow non-inactivating potassium current (M-current), as in Pospischil et al. (2008),
Biol Cybern 99:427-441, eq. for I_M (after Yamada, Koch & Adams 1989):

    I_M = gbar p (v - ek),  dp/dt = (p_inf - p) / tau_p,
    p_inf = 1 / (1 + exp(-(v + 35) / 10)),
    tau_p = tau_max / (3.3 exp((v + 35) / 20) + exp(-(v + 35) / 20)).

Written for xkernels' "Bring your own cell" example.
ENDCOMMENT

NEURON {
    SUFFIX ownm
    USEION k READ ek WRITE ik
    RANGE gbar, tau_max
}

UNITS {
    (mA) = (milliamp)
    (mV) = (millivolt)
    (S) = (siemens)
}

PARAMETER {
    gbar = 0.0001 (S/cm2)
    tau_max = 1000 (ms)
}

ASSIGNED {
    v (mV)
    ek (mV)
    ik (mA/cm2)
    p_inf
    tau_p (ms)
}

STATE {
    p
}

BREAKPOINT {
    SOLVE states METHOD cnexp
    ik = gbar * p * (v - ek)
}

INITIAL {
    rates(v)
    p = p_inf
}

DERIVATIVE states {
    rates(v)
    p' = (p_inf - p) / tau_p
}

PROCEDURE rates(v (mV)) {
    p_inf = 1 / (1 + exp(-(v + 35) / 10))
    tau_p = tau_max / (3.3 * exp((v + 35) / 20) + exp(-(v + 35) / 20))
}
