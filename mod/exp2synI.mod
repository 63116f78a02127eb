COMMENT
Exp2SynI: current-based double-exponential synapse (xkernels).

The current-based twin of NEURON's conductance-based Exp2Syn. An event of weight w (nA)
produces the synaptic current

    i(t) = -w * f * (exp(-t/tau2) - exp(-t/tau1))     (tau1 < tau2)

with f chosen so that the waveform (exp(-t/tau2) - exp(-t/tau1)) peaks at 1: the current
peaks at -w nA. A positive weight gives a negative (inward, depolarising) membrane
current, as Exp2Syn does for a depolarising reversal potential. As in Exp2Syn, tau1 is
clipped to 0.9999 tau2 when the two approach each other.
ENDCOMMENT

NEURON {
    POINT_PROCESS Exp2SynI
    RANGE tau1, tau2, i
    NONSPECIFIC_CURRENT i
}

UNITS {
    (nA) = (nanoamp)
    (mV) = (millivolt)
}

PARAMETER {
    tau1 = 0.1 (ms) <1e-9, 1e9>
    tau2 = 10 (ms) <1e-9, 1e9>
}

ASSIGNED {
    v (mV)
    i (nA)
    peak_norm
}

STATE {
    rise (nA)
    decay (nA)
}

INITIAL {
    LOCAL t_peak
    if (tau1 / tau2 > 0.9999) {
        tau1 = 0.9999 * tau2
    }
    rise = 0
    decay = 0
    t_peak = log(tau2 / tau1) * tau1 * tau2 / (tau2 - tau1)
    peak_norm = 1 / (exp(-t_peak / tau2) - exp(-t_peak / tau1))
}

BREAKPOINT {
    SOLVE kinetics METHOD cnexp
    i = rise - decay
}

DERIVATIVE kinetics {
    rise' = -rise / tau1
    decay' = -decay / tau2
}

NET_RECEIVE(weight (nA)) {
    rise = rise + weight * peak_norm
    decay = decay + weight * peak_norm
}
