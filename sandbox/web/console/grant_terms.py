"""A grant's terms for people: jail limits in readable units, read from and shown on forms.

The grants page shows each grant's effective custom-job jail limits (the
grant's own values over the defaults of :class:`jobs.kinds.custom.jail.Limits`) and its
create form takes them in seconds, MiB and counts. This module converts both
ways; the rules (keys, ranges) stay in :mod:`jobs.kinds.custom.jail` and
:func:`sandbox.access.grants.create` checks the result again.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Literal

from jobs.kinds.custom.jail import LIMIT_RANGES, Limits
from policies.airlock import min_cell_size
from policies.catalog import Grade
from policies.errors import InvalidRequest
from policies.extract import DEFAULT_MIN_K
from sandbox.web.console.i18n import N_, gettext
from sandbox.web.console.terms import term

_KIB = 1024
_MIB = 1024 * _KIB
_GIB = 1024 * _MIB
_TIB = 1024 * _GIB
#: Prefix of the create form's limit fields (``limit_wall_s``, ``limit_memory_bytes``, ...).
FIELD_PREFIX = "limit_"
#: Digits a limit field may hold: more than any range needs, few enough to parse cheaply.
_MAX_DIGITS = 9
_LABELS = {
    "wall_s": N_("wall"),
    "cpu_s": N_("CPU"),
    "memory_bytes": N_("memory"),
    "processes": N_("processes"),
    "file_size_bytes": N_("file size"),
    "open_files": N_("open files"),
    "output_bytes": N_("output size"),
    "output_files": N_("output files"),
    "tmp_bytes": N_("tmp size"),
    "cpu_percent": N_("CPU quota"),
}
_HINTS = {
    "wall_s": N_("wall-clock time before the jail is killed"),
    "cpu_s": N_("CPU time per process"),
    "memory_bytes": N_("memory per process and in total"),
    "processes": N_("processes and threads at once"),
    "file_size_bytes": N_("largest file written"),
    "open_files": N_("open files per process"),
    "output_bytes": N_("size of /output"),
    "output_files": N_("files in /output"),
    "tmp_bytes": N_("size of /tmp"),
    "cpu_percent": N_("percent of one core the jail may use"),
}

Unit = Literal["s", "MiB", ""]
#: How each unit reads (msgids; MiB and counts read the same in every language).
_UNIT_NAMES: dict[str, str] = {"s": N_("s"), "MiB": "MiB", "": ""}


def unit_name(unit: str) -> str:
    """A unit in the reader's language (``"s"`` is 秒 in Chinese)."""
    name = _UNIT_NAMES.get(unit, unit)
    return gettext(name) if name else ""


@dataclass(frozen=True, slots=True)
class LimitField:
    """One jail limit as the create form asks for it.

    Attributes:
        key: The key in a grant's ``limits`` (a field of :class:`jobs.kinds.custom.jail.Limits`).
        label: A short name (``"memory"``).
        hint: What the limit bounds.
        unit: The form's unit: seconds, MiB, or a plain count (``""``).
        scale: Stored units per form unit (bytes per MiB, else 1).
        default: The default, in form units.
        low: The least value, in form units.
        high: The greatest value, in form units.
    """

    key: str
    label: str
    hint: str
    unit: Unit
    scale: int
    default: int
    low: int
    high: int

    @property
    def unit_name(self) -> str:
        """The form's unit in the reader's language."""
        return unit_name(self.unit)

    def _unit_suffix(self) -> str:
        return f" {self.unit_name}" if self.unit else ""

    @property
    def name(self) -> str:
        """The form field's name."""
        return FIELD_PREFIX + self.key

    def parse(self, text: str) -> int | None:
        """The stored value of what a steward typed; ``None`` when blank (the default).

        Raises:
            InvalidRequest: Not a whole number, or outside the range (the
                message names the limit and its range, never the input).
        """
        text = text.strip()
        if not text:
            return None
        if not (text.isascii() and text.isdigit() and len(text) <= _MAX_DIGITS):
            raise InvalidRequest(
                gettext(
                    "jail limit '%(label)s' is a whole number%(unit)s; "
                    "leave it blank for the default"
                )
                % {"label": gettext(self.label), "unit": self._unit_suffix()}
            )
        value = int(text)
        if not self.low <= value <= self.high:
            raise InvalidRequest(
                gettext(
                    "jail limit '%(label)s' must be between %(low)s and %(high)s%(unit)s "
                    "(default %(default)s); leave it blank for the default"
                )
                % {
                    "label": gettext(self.label),
                    "low": self.low,
                    "high": self.high,
                    "unit": self._unit_suffix(),
                    "default": self.default,
                }
            )
        return value * self.scale


def _field(key: str, default: int) -> LimitField:
    low, high = LIMIT_RANGES[key]
    label, hint = _LABELS.get(key, key.replace("_", " ")), _HINTS.get(key, "")
    if key.endswith("_bytes"):
        # ceil the least and floor the greatest: any whole MiB typed lies inside the byte range
        return LimitField(
            key, label, hint, "MiB", _MIB, -(-default // _MIB), -(-low // _MIB), high // _MIB
        )
    unit: Unit = "s" if key.endswith("_s") else ""
    return LimitField(key, label, hint, unit, 1, default, low, high)


_DEFAULTS = Limits()
#: Every jail limit, in the order of :class:`jobs.kinds.custom.jail.Limits`.
LIMIT_FIELDS: tuple[LimitField, ...] = tuple(
    _field(f.name, getattr(_DEFAULTS, f.name)) for f in fields(Limits)
)


def parse_limits(form: Mapping[str, str]) -> dict[str, int]:
    """A grant's ``limits`` from the create form's ``limit_*`` fields; blanks are left out.

    Args:
        form: Field name to the text typed (other fields are ignored).

    Returns:
        Limit key to its value in stored units (seconds, bytes, counts).

    Raises:
        InvalidRequest: A field that is not a whole number in its range.

    >>> parse_limits({"limit_wall_s": "60", "limit_memory_bytes": "2048", "limit_cpu_s": ""})
    {'wall_s': 60, 'memory_bytes': 2147483648}
    """
    limits: dict[str, int] = {}
    for f in LIMIT_FIELDS:
        value = f.parse(form.get(f.name, ""))
        if value is not None:
            limits[f.key] = value
    return limits


def format_bytes(n: int) -> str:
    """A byte count exactly, in the largest binary unit that divides it.

    Hand-written because ``humanize`` and the like round (``4.0 GiB``), and a
    steward must see the exact limit a grant sets.

    >>> format_bytes(4 * 1024**3), format_bytes(1536 * 1024**2), format_bytes(1000)
    ('4 GiB', '1536 MiB', '1000 B')
    """
    for size, unit in ((_TIB, "TiB"), (_GIB, "GiB"), (_MIB, "MiB"), (_KIB, "KiB")):
        if n and n % size == 0:
            return f"{n // size} {unit}"
    return f"{n} B"


@dataclass(frozen=True, slots=True)
class LimitShown:
    """One effective jail limit of a grant, for the grants page.

    Attributes:
        key: The limit's key.
        label: Its short name.
        value: The value in readable units (``"4 GiB"``, ``"300 s"``).
        from_grant: The grant sets it (else the default applies).
    """

    key: str
    label: str
    value: str
    from_grant: bool


def effective_limits(grant_limits: Mapping[str, object] | None) -> list[LimitShown]:
    """Every jail limit a grant's custom jobs run under: its own values over the defaults.

    Shows what is stored without judging it: a value a later release forbids
    is still listed (the job service refuses it when a job starts).

    Labels stay msgids (the page translates them); units read in the current language
    (Chinese outside a request):

    >>> [(s.label, s.value, s.from_grant) for s in effective_limits({"wall_s": 60})][:3]
    [('wall', '60 秒', True), ('CPU', '120 秒', False), ('memory', '4 GiB', False)]
    """
    own = dict(grant_limits or {})
    shown = []
    for f in LIMIT_FIELDS:
        raw = own.get(f.key)
        from_grant = isinstance(raw, int) and not isinstance(raw, bool)
        value = raw if isinstance(raw, int) and from_grant else getattr(_DEFAULTS, f.key)
        text = format_bytes(value) if f.unit == "MiB" else f"{value} {unit_name(f.unit)}".rstrip()
        shown.append(LimitShown(f.key, f.label, text, from_grant))
    return shown


def grade_defaults() -> dict[str, str]:
    """The grade defaults that apply when a grant leaves ``min_cell`` or ``extract_k`` unset.

    >>> grade_defaults()["extract_k"]  # in the current language (Chinese outside a request)
    '5 一般数据, 10 重要数据'
    """
    grades = (Grade.GENERAL, Grade.IMPORTANT)
    return {
        "min_cell": ", ".join(f"{min_cell_size(g)} {term(g.value)}" for g in grades),
        "extract_k": ", ".join(f"{DEFAULT_MIN_K[g]} {term(g.value)}" for g in grades),
    }
