"""CrewAI's own flow tests, run on plait: trigger and router semantics.

Each test names the CrewAI test it comes from (crewAIInc/crewAI,
``lib/crewai/tests/test_flow.py`` unless said otherwise), adapted only to import from
plait and to record the order under a lock (plait runs sync steps in threads). Where
plait differs on purpose, the test says so and checks what plait does.
"""

from __future__ import annotations

import asyncio
import threading
from enum import Enum
from typing import Any

import pytest

from plait import Flow, and_, listen, or_, router, start


class Order(list[str]):
    """An execution log that parallel steps can append to."""

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()

    def add(self, item: str) -> None:
        with self._lock:
            self.append(item)


# -- starts, listeners, and_ / or_ ---------------------------------------------------


def test_simple_sequential_flow() -> None:  # test_simple_sequential_flow
    order = Order()

    class SimpleFlow(Flow):
        @start()
        def step_1(self) -> None:
            order.add("step_1")

        @listen(step_1)
        def step_2(self) -> None:
            order.add("step_2")

    SimpleFlow().kickoff()
    assert order == ["step_1", "step_2"]


def test_flow_with_multiple_starts() -> None:  # test_flow_with_multiple_starts
    order = Order()

    class MultiStartFlow(Flow):
        @start()
        def step_a(self) -> None:
            order.add("step_a")

        @start()
        def step_b(self) -> None:
            order.add("step_b")

        @listen(step_a)
        def step_c(self) -> None:
            order.add("step_c")

        @listen(step_b)
        def step_d(self) -> None:
            order.add("step_d")

    MultiStartFlow().kickoff()
    assert set(order) == {"step_a", "step_b", "step_c", "step_d"}
    assert order.index("step_c") > order.index("step_a")
    assert order.index("step_d") > order.index("step_b")


def test_flow_with_and_condition() -> None:  # test_flow_with_and_condition
    order = Order()

    class AndConditionFlow(Flow):
        @start()
        def step_1(self) -> None:
            order.add("step_1")

        @start()
        def step_2(self) -> None:
            order.add("step_2")

        @listen(and_(step_1, step_2))
        def step_3(self) -> None:
            order.add("step_3")

    AndConditionFlow().kickoff()
    assert order[-1] == "step_3" and set(order) == {"step_1", "step_2", "step_3"}


def test_flow_with_or_condition() -> None:  # test_flow_with_or_condition
    order = Order()

    class OrConditionFlow(Flow):
        @start()
        def step_a(self) -> None:
            order.add("step_a")

        @start()
        def step_b(self) -> None:
            order.add("step_b")

        @listen(or_(step_a, step_b))
        def step_c(self) -> None:
            order.add("step_c")

    OrConditionFlow().kickoff()
    assert order.count("step_c") == 1  # once, for the first of the two (S3)
    assert order.index("step_c") > min(order.index("step_a"), order.index("step_b"))


def test_flow_executes_and_condition_with_single_branch_or() -> None:
    # test_flow_executes_and_condition_with_single_branch_or
    class NestedConditionFlow(Flow):
        @start()
        def event_a(self) -> str:
            return "a"

        @listen(event_a)
        def event_b(self) -> str:
            return "b"

        @router(event_b)
        def emit_event_c(self) -> str:
            return "event_c"

        @listen(and_(event_a, event_b, or_("event_c")))
        def event_d(self) -> str:
            return "done"

    assert NestedConditionFlow().kickoff() == "done"


def test_or_listener_fires_once_across_parallel_starts() -> None:
    # test_or_listener_fires_once_across_parallel_starts
    fire_count = 0

    class ParallelOrFlow(Flow):
        @start()
        async def fast_start(self) -> str:
            return "fast"

        @start()
        async def slow_start(self) -> str:
            await asyncio.sleep(0.2)
            return "slow"

        @listen(or_(fast_start, slow_start))
        def handler(self) -> None:
            nonlocal fire_count
            fire_count += 1

    asyncio.run(ParallelOrFlow().kickoff_async())
    assert fire_count == 1


def test_or_listener_re_arms_across_router_loop() -> None:
    # test_or_listener_re_arms_across_router_loop
    fire_count = 0

    class CyclicOrFlow(Flow):
        iteration = 0

        @start()
        def kick(self) -> str:
            return "kick"

        @router(kick)
        def initial_router(self) -> str:
            return "SignalA"

        @listen(or_("SignalA", "SignalB"))
        def handler(self) -> None:
            nonlocal fire_count
            fire_count += 1

        @router(handler)
        def loop_router(self) -> str:
            self.iteration += 1
            return "stop" if self.iteration >= 3 else "SignalB"

    CyclicOrFlow().kickoff()
    assert fire_count == 3


def test_or_listener_does_not_double_fire_across_chained_routers() -> None:
    # test_or_listener_does_not_double_fire_across_chained_routers
    fire_count = 0

    class ChainedRouterOrFlow(Flow):
        @start()
        def kick(self) -> str:
            return "kick"

        @router(kick)
        def router_a(self) -> str:
            return "SignalA"

        @router("SignalA")
        def router_b(self) -> str:
            return "SignalB"

        @listen(or_("SignalA", "SignalB"))
        def handler(self) -> None:
            nonlocal fire_count
            fire_count += 1

    ChainedRouterOrFlow().kickoff()
    assert fire_count == 1


def test_listen_runtime_uses_flow_definition() -> None:
    # test_listen_runtime_uses_flow_definition_without_legacy_listener_metadata
    order = Order()

    class DefinitionListenFlow(Flow):
        @start()
        def begin(self) -> None:
            order.add("begin")

        @listen(begin)
        def by_callable(self) -> None:
            order.add("by_callable")

        @listen(and_(begin, by_callable))
        def by_and(self) -> None:
            order.add("by_and")

        @listen(or_(and_(begin, by_callable), "fallback"))
        def nested(self) -> None:
            order.add("nested")

    DefinitionListenFlow().kickoff()
    assert order[0] == "begin"
    assert {"by_callable", "by_and", "nested"} <= set(order)


def test_async_flow() -> None:  # test_async_flow
    order = Order()

    class AsyncFlow(Flow):
        @start()
        async def step_1(self) -> None:
            order.add("step_1")
            await asyncio.sleep(0.01)

        @listen(step_1)
        async def step_2(self) -> None:
            order.add("step_2")

    asyncio.run(AsyncFlow().kickoff_async())
    assert order == ["step_1", "step_2"]


def test_flow_restart() -> None:  # test_flow_restart
    order = Order()

    class RestartableFlow(Flow):
        @start()
        def step_1(self) -> None:
            order.add("step_1")

        @listen(step_1)
        def step_2(self) -> None:
            order.add("step_2")

    flow = RestartableFlow()
    flow.kickoff()
    flow.kickoff()
    assert order == ["step_1", "step_2", "step_1", "step_2"]


def test_nested_and_or_conditions() -> None:  # test_nested_and_or_conditions
    order = Order()

    class NestedConditionFlow(Flow):
        @start()
        def method_1(self) -> None:
            order.add("method_1")

        @listen(method_1)
        def method_2(self) -> None:
            order.add("method_2")

        @router(method_2)
        def method_3(self) -> str:
            order.add("method_3")
            return "b_condition"

        @listen("b_condition")
        def method_5(self) -> None:
            order.add("method_5")

        @listen(method_5)
        async def method_4(self) -> None:
            order.add("method_4")

        @listen(or_("a_condition", "b_condition"))
        async def method_6(self) -> None:
            order.add("method_6")

        @listen(or_(and_("a_condition", method_6), and_(method_6, method_4)))
        def method_7(self) -> None:
            order.add("method_7")

        @listen(method_7)
        async def method_8(self) -> None:
            order.add("method_8")

    NestedConditionFlow().kickoff()
    assert set(order) >= {f"method_{i}" for i in range(1, 9)}
    assert order.index("method_7") > order.index("method_6")
    assert order.index("method_7") > order.index("method_4")
    assert order.index("method_8") > order.index("method_7")


def test_diamond_dependency_pattern() -> None:  # test_diamond_dependency_pattern
    order = Order()

    class DiamondFlow(Flow):
        @start()
        def start(self) -> str:
            order.add("start")
            return "started"

        @listen(start)
        def path_a(self) -> str:
            order.add("path_a")
            return "a_done"

        @listen(start)
        def path_b(self) -> str:
            order.add("path_b")
            return "b_done"

        @listen(and_(path_a, path_b))
        def converge(self) -> str:
            order.add("converge")
            return "converged"

    DiamondFlow().kickoff()
    assert order[0] == "start" and order[-1] == "converge" and len(order) == 4


def test_complex_and_or_branching() -> None:  # test_complex_and_or_branching
    order = Order()

    class ComplexBranchingFlow(Flow):
        @start()
        def init(self) -> None:
            order.add("init")

        @listen(init)
        def branch_1a(self) -> None:
            order.add("branch_1a")

        @listen(init)
        def branch_1b(self) -> None:
            order.add("branch_1b")

        @listen(init)
        def branch_1c(self) -> None:
            order.add("branch_1c")

        @listen(and_(branch_1a, branch_1b))
        def branch_2a(self) -> None:
            order.add("branch_2a")

        @listen(or_(branch_1a, branch_1b, branch_1c))
        def branch_2b(self) -> None:
            order.add("branch_2b")

        @listen(and_(branch_2a, branch_2b))
        def final(self) -> None:
            order.add("final")

    ComplexBranchingFlow().kickoff()
    assert order.count("branch_2b") == 1 and order.count("final") == 1
    assert order.index("branch_2a") > max(order.index("branch_1a"), order.index("branch_1b"))
    first = min(order.index(f"branch_1{x}") for x in "abc")
    assert order.index("branch_2b") > first
    assert order.index("final") > max(order.index("branch_2a"), order.index("branch_2b"))


def test_and_join_waits_for_parallel_branches() -> None:
    # test_and_join_waits_for_parallel_branches
    order = Order()

    class StateConsistencyFlow(Flow):
        @start()
        def init(self) -> None:
            order.add("init")

        @listen(init)
        def branch_a(self) -> None:
            order.add("branch_a")

        @listen(init)
        def branch_b(self) -> None:
            order.add("branch_b")

        @listen(and_(branch_a, branch_b))
        def verify_state(self) -> None:
            order.add("verify_state")

    StateConsistencyFlow().kickoff()
    assert order.index("verify_state") > max(order.index("branch_a"), order.index("branch_b"))


def test_deeply_nested_conditions() -> None:  # test_deeply_nested_conditions
    order = Order()

    class DeeplyNestedFlow(Flow):
        @start()
        def a(self) -> None:
            order.add("a")

        @start()
        def b(self) -> None:
            order.add("b")

        @start()
        def c(self) -> None:
            order.add("c")

        @start()
        def d(self) -> None:
            order.add("d")

        @listen(or_(and_(a, b), and_(c, d)))
        def result(self) -> None:
            order.add("result")

    DeeplyNestedFlow().kickoff()
    at = {name: order.index(name) for name in order}
    assert order.count("result") == 1  # once, for the first join to complete
    assert (at["result"] > at["a"] and at["result"] > at["b"]) or (
        at["result"] > at["c"] and at["result"] > at["d"]
    )


def test_or_branch_does_not_leave_stale_and_state() -> None:
    # test_or_branch_does_not_leave_stale_and_state (S4)
    fired = Order()

    class StaleStateFlow(Flow):
        @start()
        def begin(self) -> None:
            pass

        @listen(begin)
        def a(self) -> None:
            pass

        @listen(begin)
        def c(self) -> None:
            pass

        @listen(and_(a, c))
        def x(self) -> None:
            pass

        @listen(or_(and_("a", "x"), and_("c", "y")))
        def joined(self) -> None:
            fired.add("joined")

        @router(joined)
        def emit_y(self) -> str:
            return "y"

    StaleStateFlow().kickoff()
    assert fired == ["joined"]


def test_and_branch_inside_or_does_not_race() -> None:
    # test_and_branch_inside_or_does_not_race
    order = Order()

    class DiamondWithFallbackFlow(Flow):
        @start()
        def go(self) -> None:
            order.add("go")

        @listen(go)
        def a(self) -> None:
            order.add("a")

        @listen(go)
        def b(self) -> None:
            order.add("b")

        @listen(or_(and_(a, b), "fallback"))
        def done(self) -> None:
            order.add("done")

    DiamondWithFallbackFlow().kickoff()
    assert order.index("done") > max(order.index("a"), order.index("b"))


def test_mixed_sync_async_execution_order() -> None:
    # test_mixed_sync_async_execution_order
    order = Order()

    class MixedSyncAsyncFlow(Flow):
        @start()
        def sync_start(self) -> None:
            order.add("sync_start")

        @listen(sync_start)
        async def async_step_1(self) -> None:
            order.add("async_step_1")
            await asyncio.sleep(0.01)

        @listen(async_step_1)
        def sync_step_2(self) -> None:
            order.add("sync_step_2")

        @listen(sync_step_2)
        async def async_step_3(self) -> None:
            order.add("async_step_3")
            await asyncio.sleep(0.01)

        @listen(async_step_3)
        def sync_final(self) -> None:
            order.add("sync_final")

    asyncio.run(MixedSyncAsyncFlow().kickoff_async())
    assert order == ["sync_start", "async_step_1", "sync_step_2", "async_step_3", "sync_final"]


# -- routers ------------------------------------------------------------------------


def test_flow_with_router() -> None:  # test_flow_with_router
    order = Order()

    class RouterFlow(Flow):
        @start()
        def start_method(self) -> None:
            order.add("start_method")

        @router(start_method)
        def router(self) -> str:
            order.add("router")
            condition = True
            return "step_if_true" if condition else "step_if_false"

        @listen("step_if_true")
        def truthy(self) -> None:
            order.add("step_if_true")

        @listen("step_if_false")
        def falsy(self) -> None:
            order.add("step_if_false")

    RouterFlow().kickoff()
    assert order == ["start_method", "router", "step_if_true"]


def test_router_runtime_with_declared_emit() -> None:
    # test_router_runtime_uses_flow_definition_without_legacy_router_metadata
    order = Order()

    class DefinitionRouterFlow(Flow):
        @start()
        def begin(self) -> str:
            order.add("begin")
            return "begin"

        @router(begin, emit=["go_left"])
        def decide(self) -> str:
            order.add("decide")
            return "go_left"

        @listen("go_left")
        def handle_left(self) -> None:
            order.add("handle_left")

    DefinitionRouterFlow().kickoff()
    assert order == ["begin", "decide", "handle_left"]


def test_start_router_runtime_routes_public_dsl_return_value() -> None:
    # test_start_router_runtime_routes_public_dsl_return_value
    order = Order()

    class StartRouterFlow(Flow):
        @start()
        @router(emit=["continue"])
        def decide(self) -> str:
            order.add("decide")
            return "continue"

        @listen("continue")
        def handle_continue(self, result: str) -> str:
            order.add(f"handle_continue:{result}")
            return "done"

    assert StartRouterFlow().kickoff() == "done"
    assert order == ["decide", "handle_continue:continue"]


def test_start_router_runtime_chains_to_stacked_listener_router() -> None:
    # test_start_router_runtime_chains_to_stacked_listener_router
    order = Order()

    class ChainedStartRouterFlow(Flow):
        @start()
        @router(emit=["approved", "not_approved"])
        def first_router(self) -> str:
            order.add("first_router")
            return "approved"

        @listen("approved")
        @router(emit=["second_approval", "not_approved"])
        def second_router(self) -> str:
            order.add("second_router")
            return "second_approval"

        @listen("second_approval")
        def handle_second_approval(self, result: str) -> str:
            order.add(f"handle_second_approval:{result}")
            return "done"

    assert ChainedStartRouterFlow().kickoff() == "done"
    assert order == [
        "first_router",
        "second_router",
        "handle_second_approval:second_approval",
    ]


def test_router_falsy_result_emits_runtime_event() -> None:
    # test_router_falsy_result_emits_runtime_event (S7)
    order = Order()

    class FalsyRouterResultFlow(Flow):
        @start()
        def begin(self) -> None:
            order.add("begin")

        @router(begin)
        def decide(self) -> int:
            order.add("decide")
            return 0

        @listen("0")
        def handle_zero(self) -> None:
            order.add("handle_zero")

    FalsyRouterResultFlow().kickoff()
    assert order == ["begin", "decide", "handle_zero"]


def test_router_with_multiple_conditions() -> None:  # test_router_with_multiple_conditions
    order = Order()

    class ComplexRouterFlow(Flow):
        @start()
        def step_a(self) -> None:
            order.add("step_a")

        @start()
        def step_b(self) -> None:
            order.add("step_b")

        @router(or_("step_a", "step_b"))
        def router_or(self) -> str:
            order.add("router_or")
            return "next_step_or"

        @listen("next_step_or")
        def handle_next_step_or_event(self) -> None:
            order.add("handle_next_step_or_event")

        @listen(handle_next_step_or_event)
        def branch_2_step(self) -> None:
            order.add("branch_2_step")

        @router(and_(handle_next_step_or_event, branch_2_step))
        def router_and(self) -> str:
            order.add("router_and")
            return "final_step"

        @listen("final_step")
        def log_final_step(self) -> None:
            order.add("log_final_step")

    ComplexRouterFlow().kickoff()
    assert {"step_a", "step_b", "router_or", "branch_2_step", "log_final_step"} <= set(order)
    assert order.index("router_and") > order.index("handle_next_step_or_event")
    assert order.index("router_and") > order.index("branch_2_step")
    assert order.index("log_final_step") > order.index("router_and")


def test_multiple_routers_from_same_trigger() -> None:
    # test_multiple_routers_from_same_trigger (a router returning None ends its branch)
    order = Order()

    class MultiRouterFlow(Flow):
        def __init__(self) -> None:
            super().__init__()
            self.state["diagnosed_conditions"] = "DHA"

        @start()
        def scan_medical(self) -> str:
            order.add("scan_medical")
            return "scan_complete"

        @router(scan_medical)
        def diagnose_conditions(self) -> str:
            order.add("diagnose_conditions")
            return "diagnosis_complete"

        @router(diagnose_conditions)
        def diabetes_router(self) -> str | None:
            order.add("diabetes_router")
            if "D" in self.state["diagnosed_conditions"]:
                return "diabetes"
            return None

        @listen("diabetes")
        def diabetes_analysis(self) -> str:
            order.add("diabetes_analysis")
            return "diabetes_analysis_complete"

        @router(diagnose_conditions)
        def hypertension_router(self) -> str | None:
            order.add("hypertension_router")
            if "H" in self.state["diagnosed_conditions"]:
                return "hypertension"
            return None

        @listen("hypertension")
        def hypertension_analysis(self) -> str:
            order.add("hypertension_analysis")
            return "hypertension_analysis_complete"

        @router(diagnose_conditions)
        def anemia_router(self) -> str | None:
            order.add("anemia_router")
            if "A" in self.state["diagnosed_conditions"]:
                return "anemia"
            return None

        @listen("anemia")
        def anemia_analysis(self) -> str:
            order.add("anemia_analysis")
            return "anemia_analysis_complete"

    MultiRouterFlow().kickoff()
    for kind in ("diabetes", "hypertension", "anemia"):
        assert order.index(f"{kind}_router") > order.index("diagnose_conditions")
        assert order.index(f"{kind}_analysis") > order.index(f"{kind}_router")


def test_router_cascade_chain() -> None:  # test_router_cascade_chain
    order = Order()

    class RouterCascadeFlow(Flow):
        def __init__(self) -> None:
            super().__init__()
            self.state["level"] = 1

        @start()
        def begin(self) -> str:
            order.add("begin")
            return "started"

        @router(begin)
        def router_level_1(self) -> str:
            order.add("router_level_1")
            return "level_1_path"

        @listen("level_1_path")
        def process_level_1(self) -> str:
            order.add("process_level_1")
            self.state["level"] = 2
            return "level_1_done"

        @router(process_level_1)
        def router_level_2(self) -> str:
            order.add("router_level_2")
            return "level_2_event"

        @listen("level_2_event")
        def process_level_2(self) -> str:
            order.add("process_level_2")
            self.state["level"] = 3
            return "level_2_done"

        @router(process_level_2)
        def router_level_3(self) -> str:
            order.add("router_level_3")
            return "final_event"

        @listen("final_event")
        def finalize(self) -> str:
            order.add("finalize")
            return "complete"

    flow = RouterCascadeFlow()
    flow.kickoff()
    assert order == [
        "begin",
        "router_level_1",
        "process_level_1",
        "router_level_2",
        "process_level_2",
        "router_level_3",
        "finalize",
    ]
    assert flow.state["level"] == 3


def test_conditional_router_events_exclusivity() -> None:
    # test_conditional_router_events_exclusivity
    order = Order()

    class ConditionalRouterFlow(Flow):
        def __init__(self) -> None:
            super().__init__()
            self.state["condition"] = "take_event_b"

        @start()
        def begin(self) -> None:
            order.add("begin")

        @router(begin)
        def decision_point(self) -> str:
            order.add("decision_point")
            if self.state["condition"] == "take_event_a":
                return "event_a"
            if self.state["condition"] == "take_event_b":
                return "event_b"
            return "event_c"

        @listen("event_a")
        def handle_event_a(self) -> None:
            order.add("handle_event_a")

        @listen("event_b")
        def handle_event_b(self) -> None:
            order.add("handle_event_b")

        @listen("event_c")
        def handle_event_c(self) -> None:
            order.add("handle_event_c")

    ConditionalRouterFlow().kickoff()
    assert order == ["begin", "decision_point", "handle_event_b"]


# -- cycles and conditional starts --------------------------------------------------


def test_cyclic_flow() -> None:
    # test_cyclic_flow: the only start is conditional, so it runs at kickoff; "exit" has
    # no listener and ends the run (S1, S5)
    order = Order()

    class CyclicFlow(Flow):
        iteration = 0
        max_iterations = 3

        @start("loop")
        def step_1(self) -> None:
            if self.iteration >= self.max_iterations:
                return
            order.add(f"step_1_{self.iteration}")

        @listen(step_1)
        def step_2(self) -> None:
            order.add(f"step_2_{self.iteration}")

        @router(step_2)
        def step_3(self) -> str:
            order.add(f"step_3_{self.iteration}")
            self.iteration += 1
            if self.iteration < self.max_iterations:
                return "loop"
            return "exit"

    CyclicFlow().kickoff()
    assert order == [f"step_{n}_{i}" for i in range(3) for n in (1, 2, 3)]


def test_start_with_a_label_next_to_an_unconditional_start() -> None:
    # test_start_runtime_uses_flow_definition_without_legacy_start_metadata (S5)
    order = Order()

    class DefinitionStartFlow(Flow):
        @start()
        def begin(self) -> str:
            order.add("begin")
            return "begin"

        @router(begin)
        def route(self) -> str:
            order.add("route")
            return "branch_event"

        @start("branch_event")
        def branch(self) -> str:
            order.add("branch")
            return "branch"

        @listen(branch)
        def done(self) -> None:
            order.add("done")

    DefinitionStartFlow().kickoff()
    assert order == ["begin", "route", "branch", "done"]


def test_cyclic_flow_with_conditional_start() -> None:
    # test_flow_resumability_regression.py::test_cyclic_flow_with_conditional_start
    order = Order()

    class CyclicConditionalFlow(Flow):
        iteration = 0

        @start()
        def initial(self) -> str:
            order.add("initial")
            return "init_done"

        @router(initial)
        def route_to_cycle(self) -> str:
            order.add("router_initial")
            return "loop"

        @start("loop")
        def cycle_entry(self) -> None:
            order.add(f"cycle_{self.iteration}")
            self.iteration += 1

        @router(cycle_entry)
        def cycle_router(self) -> str:
            order.add(f"router_{self.iteration - 1}")
            if self.iteration < 3:
                return "loop"
            return "exit"

    CyclicConditionalFlow().kickoff()
    assert order == [
        "initial",
        "router_initial",
        "cycle_0",
        "router_0",
        "cycle_1",
        "router_1",
        "cycle_2",
        "router_2",
    ]


def test_loop_flow_through_a_conditional_start() -> None:
    # test_flow_from_definition.py::LoopFlow (test_router_loop_parity)
    class LoopFlow(Flow):
        @start("retry")
        def step(self) -> int:
            self.state["count"] = self.state.get("count", 0) + 1
            return int(self.state["count"])

        @router(step)
        def decide(self) -> str:
            if self.state["count"] < 3:
                return "retry"
            return "done"

        @listen("done")
        def finish(self) -> str:
            return f"finished:{self.state['count']}"

    assert LoopFlow().kickoff() == "finished:3"


def test_cyclic_flow_or_listeners_fire_every_iteration() -> None:
    # test_cyclic_flow_or_listeners_fire_every_iteration
    order = Order()

    class CyclicOrFlow(Flow):
        iteration = 0
        max_iterations = 3

        @start()
        def begin(self) -> None:
            order.add("begin")

        @router(or_(begin, "loop_back"))
        def route(self) -> str:
            self.iteration += 1
            order.add(f"route_{self.iteration}")
            if self.iteration <= self.max_iterations:
                return "type_a" if self.iteration % 2 == 1 else "type_b"
            return "done"

        @listen("type_a")
        def handler_a(self) -> None:
            order.add(f"handler_a_{self.iteration}")

        @listen("type_b")
        def handler_b(self) -> None:
            order.add(f"handler_b_{self.iteration}")

        @listen(or_(handler_a, handler_b))
        def merge(self) -> None:
            order.add(f"merge_{self.iteration}")

        @listen(merge)
        def loop_back(self) -> None:
            order.add(f"loop_back_{self.iteration}")

    CyclicOrFlow().kickoff()
    assert len([e for e in order if e.startswith("merge_")]) == 3
    assert len([e for e in order if e.startswith("loop_back_")]) == 3
    assert len([e for e in order if e.startswith("handler_a_")]) == 2
    assert len([e for e in order if e.startswith("handler_b_")]) == 1


def test_cyclic_flow_multiple_or_listeners_fire_every_iteration() -> None:
    # test_cyclic_flow_multiple_or_listeners_fire_every_iteration
    order = Order()

    class MultiOrCyclicFlow(Flow):
        iteration = 0
        max_iterations = 3

        @start()
        def begin(self) -> None:
            order.add("begin")

        @router(or_(begin, "capture"))
        def classify(self) -> str:
            self.iteration += 1
            order.add(f"classify_{self.iteration}")
            if self.iteration <= self.max_iterations:
                return "type_a"
            return "exit"

        @listen("type_a")
        def handle_type_a(self) -> None:
            order.add(f"handle_a_{self.iteration}")

        @listen(or_("type_a", "type_b", "type_c"))
        def store(self) -> None:
            order.add(f"store_{self.iteration}")

        @listen(or_(handle_type_a))
        def send(self) -> None:
            order.add(f"send_{self.iteration}")

        @listen("send")
        def capture(self) -> None:
            order.add(f"capture_{self.iteration}")

    MultiOrCyclicFlow().kickoff()
    for method in ["store", "send", "capture"]:
        assert len([e for e in order if e.startswith(f"{method}_")]) == 3, (method, order)


def test_cyclic_flow_re_executes_on_each_iteration() -> None:
    # test_flow_resumability_regression.py::test_cyclic_flow_re_executes_on_each_iteration
    log = Order()

    class CyclicFlowTest(Flow):
        iteration = 0
        max_iterations = 3

        @start("loop")
        def step_1(self) -> str | None:
            if self.iteration >= self.max_iterations:
                return None
            log.add(f"step_1_{self.iteration}")
            return f"result_{self.iteration}"

        @listen(step_1)
        def step_2(self) -> None:
            log.add(f"step_2_{self.iteration}")

        @router(step_2)
        def step_3(self) -> str:
            log.add(f"step_3_{self.iteration}")
            self.iteration += 1
            if self.iteration < self.max_iterations:
                return "loop"
            return "exit"

    CyclicFlowTest().kickoff()
    assert log == [f"step_{n}_{i}" for i in range(3) for n in (1, 2, 3)]


# -- what CrewAI's runtime does that its tests do not pin down (checked on crewai
# 1.15.30); see the "Coming from CrewAI" notes in the lead's docs ----------------------


class Tier(Enum):
    GOLD = "gold"
    ONE = 1


def test_router_results_become_labels_like_crewai() -> None:
    """None ends the branch, an Enum routes to its value, anything else to str() of it;
    listeners of the label receive the (Enum-unwrapped) value."""
    seen = Order()

    class Labels(Flow):
        @start()
        def s(self) -> int:
            return 1

        @router(s)
        def nothing(self) -> None:
            return None

        @router(s)
        def to_gold(self) -> Tier:
            return Tier.GOLD

        @router(s)
        def to_one(self) -> Tier:
            return Tier.ONE

        @router(s)
        def to_false(self) -> bool:
            return False

        @router(s)
        def nobody(self) -> str:
            return "nobody listens"

        @listen("gold")
        def on_gold(self, value: Any) -> None:
            seen.add(f"gold:{value!r}")

        @listen("1")
        def on_one(self, value: Any) -> None:
            seen.add(f"1:{value!r}")

        @listen("False")
        def on_false(self, value: Any) -> None:
            seen.add(f"False:{value!r}")

        @listen(nothing)
        def after_nothing(self, value: Any) -> None:
            seen.add(f"after_nothing:{value!r}")

    Labels().kickoff()
    assert sorted(seen) == ["1:1", "False:False", "after_nothing:None", "gold:'gold'"]


def test_a_label_named_like_a_step_fires_that_steps_listeners() -> None:
    """Step names and labels share one namespace."""
    seen = Order()

    class Shared(Flow):
        @start()
        def s(self) -> str:
            return "S"

        @listen("s")
        def x(self, value: str) -> None:
            seen.add(f"x:{value}")

        @router(x)
        def r(self) -> str:
            self.state["n"] = self.state.get("n", 0) + 1
            return "s" if self.state["n"] < 2 else "end"

    assert Shared().kickoff() == "end"
    assert seen == ["x:S", "x:s"]


def test_a_conditional_start_on_a_step_name_waits_for_a_label() -> None:
    """CrewAI starts ``@start(s)`` only when a router returns "s" (its docs say "a prior
    method or router label"; its runtime hears labels only), so t never runs here, and
    a conditional start is called without arguments (its parameter keeps its default)."""
    seen = Order()

    class Gate(Flow):
        @start()
        def s(self) -> str:
            seen.add("s")
            return "S"

        @start(s)
        def t(self) -> None:
            seen.add("t")

        @start("lab")
        def u(self, value: Any = "unset") -> str:
            seen.add(f"u:{value}")
            return "U"

        @router(s)
        def r(self) -> str:
            seen.add("r")
            return "lab"

    assert Gate().kickoff() == "U"
    assert seen == ["s", "r", "u:unset"]


def test_only_conditional_starts_all_run_at_kickoff() -> None:
    seen = Order()

    class OnlyConditional(Flow):
        @start("x")
        def a(self) -> None:
            seen.add("a")

        @start(or_("y", "z"))
        def b(self) -> None:
            seen.add("b")

    OnlyConditional().kickoff()
    assert sorted(seen) == ["a", "b"]


def test_a_flow_without_start_steps_does_nothing() -> None:
    seen = Order()

    class Idle(Flow):
        @listen("nothing")
        def a(self) -> None:
            seen.add("a")

    assert Idle().kickoff() is None and seen == []


def test_the_last_output_of_a_branch_ending_on_an_unheard_label() -> None:
    class Ends(Flow):
        @start()
        def s(self) -> str:
            return "S"

        @router(s)
        def r(self) -> str:
            return "nobody"

    assert Ends().kickoff() == "nobody"  # the router's output, as in CrewAI


def test_the_other_sources_of_an_or_are_not_cancelled() -> None:
    """Difference: CrewAI cancels the other exclusive sources of an ``or_`` once the
    first one (and what follows it) completes; plait lets them finish. The listener
    still fires once."""
    seen = Order()

    class Race(Flow):
        @start()
        async def s(self) -> None:
            self.h_ran = asyncio.Event()
            seen.add("s")

        @listen(s)
        async def a(self) -> None:
            seen.add("a")

        @listen(s)
        async def b(self) -> None:
            await self.h_ran.wait()  # b finishes last, after h
            seen.add("b")

        @listen(or_(a, b))
        async def h(self) -> None:
            seen.add("h")
            self.h_ran.set()

    Race().kickoff()
    assert seen == ["s", "a", "h", "b"]  # CrewAI: ["s", "a", "h"]


def test_a_step_listening_to_its_own_name_listens_to_the_label() -> None:
    """Difference: CrewAI refuses a method whose condition names itself (it would loop
    on its own completion); plait reads the name as the router label."""
    order = Order()

    class SelfNamed(Flow):
        @start()
        def begin(self) -> None:
            order.add("begin")

        @router(begin)
        def route(self) -> str:
            return "process"

        @listen("process")
        def process(self) -> None:
            order.add("process")

    SelfNamed().kickoff()
    assert order == ["begin", "process"]


@pytest.mark.parametrize("limit", [3])
def test_a_loop_that_never_ends_stops_at_the_call_limit(limit: int) -> None:
    """CrewAI raises RecursionError after max_method_calls (100); plait fails the run
    with a StepError-family error after max_calls (1000 unless set)."""
    from plait import PlaitError

    class Forever(Flow):
        max_calls = limit

        @start()
        def s(self) -> None: ...

        @router(or_(s, "again"))
        def r(self) -> str:
            return "again"

    with pytest.raises(PlaitError, match="more than 3 times"):
        Forever().kickoff()
