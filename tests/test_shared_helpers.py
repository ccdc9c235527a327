"""The library-wide helpers every construct uses: prop type checks, subnet selection, error subjects."""

from __future__ import annotations

import dataclasses
import enum

import aws_cdk as cdk
import pytest
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from constructs import Construct

from cdk_llm_serving._errors import ProblemCollector, PropsValidationError
from cdk_llm_serving._types import PropsTypeError, TypedOptions, matches, problem, typed_props
from cdk_llm_serving._vpc import SUBNET_SELECTION_FIELDS, select_subnets


class Colour(enum.Enum):
    RED = "red"


@dataclasses.dataclass(frozen=True, kw_only=True)
class Opts(TypedOptions):
    count: int = 1
    ratio: float = 0.5
    name: str | None = None
    tags: dict[str, str] = dataclasses.field(default_factory=dict)


class Thing(Construct):
    @typed_props
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        count: int = 1,
        colour: Colour = Colour.RED,
        timeout: cdk.Duration | None = None,
        opts: Opts | None = None,
        role: iam.IRole | None = None,
        names: list[str] | None = None,
    ) -> None:
        super().__init__(scope, construct_id)


def test_wrong_types_are_all_named_with_the_construct_path_and_a_fix() -> None:
    stack = cdk.Stack(cdk.App(), "S")
    with pytest.raises(PropsTypeError) as err:
        Thing(stack, "T", count="4096", colour="red", timeout=600, names="a")  # type: ignore[arg-type]
    message = str(err.value)
    assert "Thing at S/T" in message and len(err.value.problems) == 4
    assert "count must be int, got str '4096' (pass the number 4096 without quotes)" in message
    assert "colour must be Colour, got str 'red' (use Colour.RED)" in message
    assert "timeout must be cdk.Duration or None, got int 600 (use cdk.Duration.seconds(600))" in message
    assert "names must be list[str] or None, got str 'a'" in message


def test_right_types_pass_and_jsii_interfaces_are_left_to_jsii() -> None:
    stack = cdk.Stack(cdk.App(), "S")
    role = iam.Role(stack, "R", assumed_by=iam.AccountRootPrincipal())
    Thing(stack, "T", count=2, timeout=cdk.Duration.seconds(3), opts=Opts(count=3, ratio=1), role=role, names=["a"])
    assert not matches(True, int)  # a bool is not a count
    assert matches(3, float)


def test_option_dataclasses_check_their_fields() -> None:
    with pytest.raises(PropsTypeError, match=r"ratio must be float, got str '0.9'"):
        Opts(ratio="0.9")  # type: ignore[arg-type]
    with pytest.raises(PropsTypeError, match=r"tags must be dict\[str, str\], got dict"):
        Opts(tags={"a": 1})  # type: ignore[dict-item]


def test_subnet_selection_keeps_every_field() -> None:
    # The bug the shared helper fixes: a hand-copied selection dropped subnet_filters.
    stack = cdk.Stack(cdk.App(), "S")
    vpc = ec2.Vpc(stack, "V", max_azs=2)
    one = vpc.private_subnets[0].subnet_id
    chosen = select_subnets(vpc, ec2.SubnetSelection(subnet_filters=[ec2.SubnetFilter.by_ids([one])]))
    assert [stack.resolve(s) for s in chosen.subnet_ids] == [stack.resolve(one)]
    assert len(select_subnets(vpc).subnet_ids) == 2  # default: the private subnets
    assert set(SUBNET_SELECTION_FIELDS) == {
        f for f in dir(ec2.SubnetSelection(subnet_type=ec2.SubnetType.PUBLIC)) if not f.startswith("_")
    }


def test_problems_name_the_construct_path() -> None:
    stack = cdk.Stack(cdk.App(), "S")
    p = ProblemCollector.for_construct(Construct(stack, "C"))
    p.add("x is wrong")
    with pytest.raises(PropsValidationError, match=r"invalid Construct at S/C \(1 problem"):
        p.raise_if_any()


def test_a_number_given_for_a_string_says_to_quote_it() -> None:
    # E-newcomer: EksInferentiaCluster(kubernetes_version=1.34) passed a float where the version is a string.
    assert problem("version", 1.34, str) == 'version must be str, got float 1.34 (pass the string "1.34" in quotes)'
    assert problem("name", 7, str | None) == 'name must be str or None, got int 7 (pass the string "7" in quotes)'
