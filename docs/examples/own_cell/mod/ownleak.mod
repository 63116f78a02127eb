COMMENT
A second leak current, i = g (v - e): the smallest mechanism of one's own (xkernels'
"Bring your own cell" example; linear, so its kernels can be checked exactly against a
passive leak of the summed conductance).
ENDCOMMENT

NEURON {
    SUFFIX ownleak
    NONSPECIFIC_CURRENT i
    RANGE g, e
}

UNITS {
    (mA) = (milliamp)
    (mV) = (millivolt)
    (S) = (siemens)
}

PARAMETER {
    g = 0.0001 (S/cm2)
    e = -65 (mV)
}

ASSIGNED {
    v (mV)
    i (mA/cm2)
}

BREAKPOINT {
    i = g * (v - e)
}
