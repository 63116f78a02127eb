"""Where a population's synapses land on its cell: the data of the cell check figure
(:func:`xkernels.cellplot.plot_cell`), and the check that every cell of a network can
be built and take its synapses (:func:`check_cells`).

For a postsynaptic population Y, its cell is built as the kernels build it (at the
population's mean depth, rotated, with the section checks) and every connection X -> Y
places its synapses by its placement rule: the expected number of synapses of X on each
segment of one cell of Y is ``k_in p_i`` (in-degree times the placement probability,
:func:`xkernels.engine.linearisation.placement_probability`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from xkernels.engine import linearisation as lin
from xkernels.engine.cells import Geometry, LinearisedCell, NeuronCell
from xkernels.spec.network import Network


@dataclass
class SynapseMap:
    """A population's cell and the synapses each presynaptic population gives it.

    Attributes
    ----------
    post : str
        The postsynaptic population.
    geometry : Geometry
        The cell's segments (µm), soma at the population's mean depth.
    synapses : dict of str to ndarray
        Presynaptic population -> expected synapses per segment on one cell, shape
        (nseg,); sums to the in-degree.
    """

    post: str
    geometry: Geometry
    synapses: dict[str, np.ndarray]

    @property
    def section_kinds(self) -> list[str]:
        """The array name of every segment's section (``soma``, ``dend``, ``apic``...)."""
        return [name.split(".")[-1].split("[")[0] for name in self.geometry.sections]


def synapse_map(network: Network, post: str, widened: bool = False) -> SynapseMap:
    """The cell of ``post`` and the expected synapses of each input on its segments.

    Parameters
    ----------
    network : Network
        The network.
    post : str
        A postsynaptic population.
    widened : bool
        Widen the placement densities by the population's depth spread, as
        ``averaging="reference"`` places synapses; default: as one cell at the mean depth
        receives them (``averaging="depth"`` at its central node).

    Returns
    -------
    SynapseMap

    Raises
    ------
    ValueError
        ``post`` has no inputs; a placement or morphology that does not fit the cell
        (as the kernels would refuse it).

    Examples
    --------
    >>> import xkernels
    >>> m = synapse_map(xkernels.Network.example(), "E")
    >>> m.geometry.nseg, sorted(m.synapses)
    (27, ['E', 'I'])
    >>> round(float(m.synapses["I"].sum()), 1)      # the in-degree from I (synapses)
    256.0
    """
    if post not in network.postsynaptic:
        raise ValueError(f"post must be a postsynaptic population of the network, one of "
                         f"{network.postsynaptic}, got {post!r}")
    pop = network.population(post)
    with LinearisedCell(pop.cell, pop, dt=0.0625, e_pas_default=-65.0) as cell:
        geometry = cell.geometry
    synapses = {}
    for conn in network.inputs(post):
        p = lin.placement_probability(conn.placement, geometry.sections, geometry.z_mid,
                                      geometry.area, pop.scale if widened else 0.0,
                                      f"connections['{conn.key}'].placement")
        k_in, _ = lin.synapse_counts(conn, network.population(conn.pre).size, pop.size)
        synapses[conn.pre] = p * k_in
    return SynapseMap(post=post, geometry=geometry, synapses=synapses)


def check_cells(network: Network, dt: float = 2.0 ** -4) -> None:
    """Build the cell of every postsynaptic population once and check the section names
    of its placements, before a long computation writes anything.

    Builds as the computations do (mechanisms compiled and loaded, morphology read,
    template checked, the section checks of
    :func:`~xkernels.engine.morphology.check_sections`); ms per cell.

    Parameters
    ----------
    network : Network
        The network.
    dt : float
        Time step of the cells (ms).

    Raises
    ------
    ValueError
        Naming the population's field or the connection's placement.

    Examples
    --------
    >>> import xkernels
    >>> check_cells(xkernels.Network.example())
    >>> check_cells(xkernels.Network.example().with_values(
    ...     {"connections[E->E].placement.sections": ["apical"]}))
    Traceback (most recent call last):
    ...
    ValueError: connections['E->E'].placement.sections: section 'apical' does not exist on
    the cell; its sections are ['apic[0]', 'dend[0]', 'soma[0]']; did you mean 'apic'?
    """
    for post in network.postsynaptic:
        pop = network.population(post)
        with NeuronCell(pop.cell, pop, dt, e_pas_default=-65.0) as cell:
            sections = list(cell.sections)
        for conn in network.inputs(post):
            lin.section_mask(sections, list(conn.placement.sections),
                             f"connections['{conn.key}'].placement.sections")
