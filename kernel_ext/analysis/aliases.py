"""Which names of a cell may share an object, as its statements bind them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from kernel_ext.analysis.namespace_aliases import shared_objects


@dataclass
class Aliases:
    """May-alias relation between names, flow-sensitive within the cell.

    Objects shared before the cell are only known when the namespace maps two
    names to the very same object; containment from earlier cells is not.

    Stored as overlapping cliques: two names may alias when some clique holds
    both.  In a long cell nearly every name ends up aliasing hundreds of others
    (containers fed by ``items.append(x)`` may hold what they were fed), and a
    set of neighbours per name made every binding copy and update them all;
    with cliques, binding a name costs the number of cliques it joins.
    """

    cliques: dict[int, set[str]] = field(default_factory=dict)
    member_of: dict[str, set[int]] = field(default_factory=dict)
    _next_id: int = 0

    def _new_clique(self, names: Iterable[str]) -> None:
        cid = self._next_id
        self._next_id += 1
        members = self.cliques[cid] = set(names)
        member_of = self.member_of
        for name in members:
            cids = member_of.get(name)
            if cids is None:
                member_of[name] = {cid}
            else:
                cids.add(cid)

    def seed_from_namespace(self, ns: Mapping[str, object], names: Iterable[str]) -> None:
        """Names of earlier cells that hold the same object, a part of another's
        object (`b = a[0]`, `m.data = df`) or a view of the same numpy buffer."""
        for same in shared_objects(ns, names):
            self._new_clique(same)

    def expand(self, names: Iterable[str]) -> frozenset[str]:
        """The names and every name that may share an object with one of them."""
        names = names if isinstance(names, frozenset) else frozenset(names)
        member_of, cliques = self.member_of, self.cliques
        cids: set[int] = set()
        for name in names:
            mine = member_of.get(name)
            if mine:
                cids |= mine
        if not cids:
            return names
        return names.union(*map(cliques.__getitem__, cids))  # one new frozenset

    def neighbours(self, name: str) -> set[str]:
        """Names other than `name` that may share an object with it."""
        out: set[str] = set()
        cliques = self.cliques
        for cid in self.member_of.get(name, ()):
            out |= cliques[cid]
        out.discard(name)
        return out

    def rebind(self, name: str, sources: frozenset[str], keep_old: bool) -> None:
        """`name` now may share with `sources` and their aliases (and, with
        `keep_old`, still with its own): it joins every clique of a source, and
        forms a new pair with each source that is in none."""
        member_of, cliques = self.member_of, self.cliques
        targets: set[int] = set()
        lonely = []
        for source in sources:
            cids = member_of.get(source)
            if cids:
                targets |= cids
            elif source != name:
                lonely.append(source)
        mine = member_of.get(name)
        if mine is None:
            mine = member_of[name] = set()
        elif not keep_old:
            for cid in mine - targets:
                clique = cliques[cid]
                clique.discard(name)
                if not clique:
                    del cliques[cid]
            mine &= targets
        for cid in targets - mine:
            cliques[cid].add(name)
            mine.add(cid)
        for source in lonely:  # a pair each: the sources do not alias one another
            self._new_clique((name, source))
        if not mine:
            del member_of[name]

    def forget(self, name: str) -> None:
        self.rebind(name, frozenset(), keep_old=False)
