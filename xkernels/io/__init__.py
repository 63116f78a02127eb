"""Meet users where their data lives: spikes in from NEST, Brian2, SONATA and NWB;
signals out to NWB and MNE.

Every reader returns :class:`xkernels.Spikes` (spike times in ms per neuron of each
population), which :func:`xkernels.rates_from_spikes` bins and
:func:`xkernels.hybrid.simulate` drives cells with.  The writers are also on the
accessor: ``signals.xk.to_nwb(path)``, ``signals.xk.to_mne()``.  The fields' own
libraries (``h5py``, ``pynwb``, ``mne``, ``brian2``) are imported only when used:
``pip install 'xkernels[io]'``.
"""

from xkernels.io.brian import read_brian2
from xkernels.io.mne_export import to_mne
from xkernels.io.nest import read_nest
from xkernels.io.nwb import read_nwb, to_nwb
from xkernels.io.sonata import read_sonata

__all__ = ["read_brian2", "read_nest", "read_nwb", "read_sonata", "to_mne", "to_nwb"]
