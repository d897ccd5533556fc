"""Answer types against hand-checked cases: lists as multisets, Minerva numbers to the gold's own rounding, units and
degrees, intervals and tuples, equations, and what Math-Verify misreads."""

import pytest

from benchmarks.answer_types import (find_list_answer, grade_answer, number_value, same_unit, split_items,
                                     split_unit, strip_unit, tolerance)
from benchmarks.grading import grade

CASES = [  # gold, response, answer_type, unit, correct (each checked by hand)
    # lists: any order, every item once, none left over
    (r"\frac{-1+\sqrt{17}}{2}, \frac{-1-\sqrt{17}}{2}", r"\boxed{\frac{-1-\sqrt{17}}{2}, \frac{-1+\sqrt{17}}{2}}",
     "list", "", True),
    (r"\frac{-1+\sqrt{17}}{2}, \frac{-1-\sqrt{17}}{2}", r"\boxed{\frac{-1+\sqrt{17}}{2}}", "list", "", False),
    ("-2,-2", r"\boxed{-2, -2}", "list", "", True),
    ("-2,-2", r"\boxed{-2}", "list", "", False),        # Math-Verify alone: {-2} = {-2}, correct
    ("1,3,5", r"so \boxed{1}, \boxed{3} and \boxed{5}", "list", "", True),
    ("1,3,5", r"first \boxed{7}. Then the values are \boxed{5}, \boxed{3}", "list", "", False),
    ("1,3,5", r"\boxed{1, 3, 5, 7}", "list", "", False),
    ("1,3,5", r"$x \in \boxed{\{5, 1, 3\}}$", "list", "", True),
    ("1,3,5", r"\boxed{x = 1 \text{ or } x = 3 \text{ or } x = 5}", "list", "", True),
    (r"1+\sqrt{2}, 1-\sqrt{2}", r"\boxed{1 \pm \sqrt{2}}", "list", "", True),
    ("(1,8,19), (2,7,13), (4,5,7)", r"\boxed{(4,5,7), (1,8,19), (2,7,13)}", "list", "", True),
    ("(1,8,19), (2,7,13), (4,5,7)", r"\boxed{(4,5,7), (8,1,19), (2,7,13)}", "list", "", False),  # a tuple in order
    ("90^{\\circ}, 90^{\\circ}", r"\boxed{\angle BEA_1 = 90^\circ, \angle AEB_1 = 90^\circ}", "list", "", True),
    # approximate numbers: half a unit of the gold's last significant digit, at most 5%
    ("1.6", r"\boxed{1.57}", "number", "", True),        # Minerva 0: 45/3600 * pi/180 * 7200 = 1.5708
    ("1.6", r"\boxed{1.7}", "number", "", False),
    ("1.6", r"\boxed{1.66}", "number", "", False),
    ("4.5e33", r"\boxed{4.47 \times 10^{33}}", "number", "", True),
    ("4.5e33", r"\boxed{4.5e33}", "number", "", True),
    ("4.5e33", r"\boxed{4.6 \times 10^{33} \text{ erg/s}}", "number", "", False),
    ("15625", r"\boxed{15626}", "number", "", False),    # the Qwen evaluation (relative 1e-4) passes it
    ("6630", r"\boxed{6631}", "number", "", True),        # 6565 * 1.01 = 6630.65; trailing 0 not significant
    ("3e8", r"\boxed{2.5 \times 10^8}", "number", "", False),   # 1 figure: at most 5%
    ("0", r"\boxed{0.01}", "number", "", False),
    ("-0.875", r"\boxed{-\frac{7}{8}}", "number", "", True),
    ("-10", r"\boxed{10}", "number", "", False),
    (r"\arcsin\left(\frac{10}{13}\right)", r"\boxed{\sin^{-1}(10/13)}", "expression", "", True),
    # units: none, or the same one written any way; never another one
    ("45", r"\boxed{45} minutes", "expression", "minutes", True),
    ("45", r"\boxed{45 \text{ min}}", "expression", "minutes", True),
    ("45", r"\boxed{45 \text{ hours}}", "expression", "minutes", False),
    ("166", r"\boxed{166 \mathrm{~cm}^{2}}", "expression", "cm^2", True),
    ("300", r"\boxed{300 \text{ km/s}}", "number", r"\mathrm{~km} / \mathrm{s}", True),
    ("300", r"\boxed{300 \text{ m/s}}", "number", r"\mathrm{~km} / \mathrm{s}", False),
    ("1.6", r"\boxed{0.016 \text{ m}}", "number", r"\mathrm{~cm}", False),   # nothing converts units
    ("7.6 Z", r"\boxed{7.6 Z \mathrm{eV}}", "expression", r"\mathrm{eV}", True),
    ("7.6 Z", r"\boxed{7.6 Z \text{ kg}}", "expression", r"\mathrm{eV}", False),
    # degrees need no unit
    ("44^{\\circ}", r"\boxed{44}", "expression", "", True),
    ("44^{\\circ}", r"\boxed{44°}", "expression", "", True),
    ("44^{\\circ}", r"\boxed{45^\circ}", "expression", "", False),
    # intervals and tuples
    ("(0,4]", r"\boxed{(0, 4]}", "expression", "", True),
    ("(0,4]", r"\boxed{(0, 4)}", "expression", "", False),
    (r"(-\infty, 0) \cup\{1\}", r"\boxed{(-\infty,0)\cup\{1\}}", "expression", "", True),
    (r"(-\frac{1}{2}, \frac{7}{2})", r"\boxed{(\frac{7}{2}, -\frac{1}{2})}", "expression", "", False),
    # equations: by their right-hand side; two equations only when they agree
    ("f(x)=2 x", r"\boxed{2x}", "expression", "", True),
    (r"m_{\max }=n^{2}-n-1", r"\boxed{n^2-n-1}", "expression", "", True),   # Math-Verify cannot read the left side
    (r"m_{\max }=n^{2}-n-1", r"\boxed{n^2-n}", "expression", "", False),
    ("N=n", r"\boxed{N=n+1}", "expression", "", False),   # Math-Verify: no solutions to either, so equal
    (r"\frac{d x}{d t}=k x-a", r"\boxed{\frac{dx}{dt}=kx+a}", "expression", "", False),
    (r"\frac{d x}{d t}=k x-a", r"\boxed{\frac{dx}{dt}-kx+a=0}", "expression", "", True),
    # what Math-Verify 0.9 misreads, renamed on both sides
    (r"\frac{1}{3} E_{1}+\frac{2}{3} E_{2}", r"\boxed{\frac{E_1}{3}+\frac{2E_2}{3}}", "expression", "", True),
    (r"\frac{1}{3} E_{1}+\frac{2}{3} E_{2}", r"\boxed{\frac{2}{3} E_{1}+\frac{2}{3} E_{2}}", "expression", "",
     False),   # Math-Verify reads both as 2/3
    (r"L_{\odot}", r"\boxed{L_\odot}", "expression", "", True),
]


@pytest.mark.parametrize("gold, response, answer_type, unit, correct", CASES)
def test_answer_types(gold, response, answer_type, unit, correct):
    assert grade_answer(gold=gold, response=response, answer_type=answer_type, unit=unit).correct is correct


def test_the_plain_grader_misses_what_the_types_catch():
    """The bugs the answer types fix, as Math-Verify alone grades them (so these cases can fail)."""
    assert grade(gold="-2,-2", response=r"\boxed{-2}").correct   # a multiset read as a set
    assert not grade(gold="4.5e33", response=r"\boxed{4.5 \times 10^{33}}").correct   # "e" read as Euler's number
    assert grade(gold="45", response=r"\boxed{45 \text{ hours}}").correct   # units dropped, whatever they are


def test_tolerance_is_the_golds_rounding():
    assert tolerance("1.6") == pytest.approx(0.05) and tolerance("4.5e33") == pytest.approx(5e31)
    assert tolerance("6630") == pytest.approx(5) and tolerance("15625") == pytest.approx(0.5)
    assert tolerance("0.10") == pytest.approx(0.005) and tolerance("3e8") == pytest.approx(1.5e7)
    assert tolerance("100") == pytest.approx(5) and tolerance("0") == 0
    assert tolerance(r"\frac{1}{2}") is None and tolerance("np.arcsin(10/13)") is None


def test_number_values():
    assert number_value("4.5e33") == pytest.approx(4.5e33)
    assert number_value(r"4.5 \times 10^{33}") == pytest.approx(4.5e33)
    assert number_value(r"\frac{8}{5}") == pytest.approx(1.6)
    assert number_value("x + 1") is None and number_value("1 + i") is None


def test_items_and_boxes():
    assert split_items("(1,8,19), (2,7,13)") == ["(1,8,19)", "(2,7,13)"]
    assert split_items(r"x \in \{1, 3\}") == ["1", "3"]
    assert split_items(r"1 \pm \sqrt{2}") == [r"1 + \sqrt{2}", r"1 - \sqrt{2}"]
    assert split_items("69$,$84") == ["69", "84"]
    assert split_items(r"(-\infty, 0) \cup\{1\}") == [r"(-\infty, 0) \cup\{1\}"]
    assert split_items(r"\{1\} \cup \{2\}") == [r"\{1\} \cup \{2\}"]
    assert find_list_answer(r"\boxed{1}, \boxed{3}") == ("1, 3", "boxed")
    assert find_list_answer(r"\boxed{1}. Hence \boxed{3}") == ("3", "boxed")


def test_units():
    assert split_unit(r"1.6 \mathrm{~cm}") == ("1.6", r"\mathrm{~cm}")
    assert split_unit(r"2\pi") == (r"2\pi", "") and split_unit("3x") == ("3x", "") and split_unit("3 i") == ("3 i", "")
    assert strip_unit(r"7.6 Z \mathrm{eV}", "eV") == ("7.6 Z", r"\mathrm{eV}")
    assert same_unit(r"\mathrm{~km} / \mathrm{s}", "km/s") and same_unit("minutes", "min")
    assert same_unit(r"\AA", "Angstroms") and same_unit(r"^{\circ}", "degrees")
    assert not same_unit("M", "m") and not same_unit("hours", "minutes")


def test_unknown_answer_type():
    with pytest.raises(ValueError, match="list"):
        grade_answer(gold="1", response=r"\boxed{1}", answer_type="lists")
