"""The scheduler on its own (no model): chunked prefill, decodes never starved, VTC fairness, LUT waits."""

from __future__ import annotations

from server.config import SchedulerConfig
from server.kv_cache import BlockManager
from server.request import Request, RequestHandle
from server.sampling import SamplingParams
from server.scheduler import Scheduler


class FakePool:
    """Every task resident in slot 1, except those listed as loading."""

    def __init__(self, loading=()):
        self.loading, self.pins = set(loading), 0

    def acquire(self, key):
        if key[0] in self.loading:
            return None
        self.pins += 1
        return 0 if key[0] == "base" else 1

    def release(self, key):
        self.pins -= 1


def create_scheduler(pool=None, num_blocks=1000, block_size=4, **config) -> Scheduler:
    config = {"max_num_seqs": 4, "max_num_batched_tokens": 16, "decode_steps": 1, **config}  # one step a plan
    return Scheduler(SchedulerConfig(**config), BlockManager(num_blocks, block_size), pool or FakePool())


def create_request(task: str, prompt_len: int, rid: str, tenant: str | None = None) -> Request:
    handle = RequestHandle(rid, task, lambda _: None)
    return Request(rid, task, (task, 1), list(range(prompt_len)), SamplingParams(), None, None, handle, tenant)


def step(scheduler: Scheduler, requests: dict[str, Request]):
    """Schedule, then pretend every sampling chunk produced token 7 (a multi-step decode: decode_steps of them),
    read back at once (no overlap)."""
    plan = scheduler.schedule()
    sampled = [requests[c.request_id] for c in plan.chunks if c.sample]
    scheduler.launched(sampled, plan.decode_steps)
    for req in sampled:
        req.output_ids.extend([7] * plan.decode_steps)
        scheduler.read_back(req, plan.decode_steps)
    return plan


def decoding(scheduler: Scheduler, *requests: Request, **params) -> dict[str, Request]:
    """The requests (their params replaced by SamplingParams(**params)) admitted and past their prompts."""
    for r in requests:
        r.params = SamplingParams(**params)
        scheduler.add(r)
    by_id = {r.request_id: r for r in requests}
    step(scheduler, by_id)  # their prompts (within the step's budget)
    assert all(r.num_tokens - r.num_computed == 1 for r in requests)
    return by_id


def test_when_every_running_request_decodes_and_none_waits_the_decodes_run_several_steps():
    s = create_scheduler(decode_steps=4)
    reqs = decoding(s, create_request("a", 3, "r0"), create_request("b", 5, "r1"), max_tokens=20)
    free = s.blocks.num_free
    plan = step(s, reqs)
    assert plan.decode_steps == 4 and len(plan.decodes) == 2
    # blocks for the 4 positions each computes (3..6 and 5..8, block size 4): one more block each
    assert [len(c.block_ids) for c in plan.decodes] == [2, 3] and s.blocks.num_free == free - 2
    assert [r.num_computed for r in reqs.values()] == [3 + 4, 5 + 4]  # after launched: one token left to compute
    assert s.served == {("a", None): 3 + 8.0, ("b", None): 5 + 8.0}  # the prompt tokens, then 4 decodes each


def test_multi_step_plans_last_as_long_as_the_request_with_the_most_tokens_left_and_stop_at_the_model_length():
    s = create_scheduler(decode_steps=8)
    reqs = decoding(s, create_request("a", 3, "r0"), max_tokens=6)  # 1 token so far: 5 left
    assert step(s, reqs).decode_steps == 5
    s = create_scheduler(decode_steps=8)
    reqs = decoding(s, create_request("a", 3, "r0"), create_request("b", 3, "r1"), max_tokens=20)
    reqs["r0"].params.max_tokens = 3  # 2 left: it keeps those, the engine drops the plan's other tokens for it
    assert step(s, reqs).decode_steps == 8
    s = create_scheduler(decode_steps=8)
    s.max_model_len = 8
    reqs = decoding(s, create_request("a", 3, "r0"), max_tokens=20)  # 4 tokens: up to 8 is 4 more
    assert step(s, reqs).decode_steps == 4


def test_single_steps_while_a_waiting_request_could_start_or_one_needs_each_token_on_the_host():
    s = create_scheduler(FakePool(loading={"b"}), decode_steps=4)
    reqs = decoding(s, create_request("a", 3, "r0"), max_tokens=20)
    s.add(create_request("b", 3, "waiting"))  # its LUT loads: it starts at the first step after
    assert step(s, reqs).decode_steps == 1
    s = create_scheduler(decode_steps=4, max_num_seqs=1)
    reqs = decoding(s, create_request("a", 3, "r0"), max_tokens=20)
    s.add(create_request("b", 3, "waiting"))  # no seat for it until r0 ends: no reason to wait in single steps
    assert step(s, reqs).decode_steps == 4
    for params in ({"repetition_penalty": 1.2}, {"logit_bias": {3: 1.0}}, {"json_object": True}, {"logprobs": 2}):
        s = create_scheduler(decode_steps=4)
        reqs = decoding(s, create_request("a", 3, "r0"), create_request("b", 3, "r1"), max_tokens=20)
        reqs["r1"].params = SamplingParams(max_tokens=20, **params)
        assert step(s, reqs).decode_steps == 1, params


def test_multi_step_decodes_take_no_block_they_cannot_all_have():
    s = create_scheduler(decode_steps=4, num_blocks=4)  # 3 blocks of 4 tokens for sequences (1 is the null block)
    reqs = decoding(s, create_request("a", 4, "r0"), create_request("b", 3, "r1"), max_tokens=20)
    assert s.blocks.num_free == 1  # r0 holds 1 block (+1 for its first decode: 2), r1 1
    plan = step(s, reqs)
    assert plan.decode_steps == 1 and s.blocks.num_free >= 0


def test_long_prompt_is_chunked_and_decodes_keep_going():
    s = create_scheduler()
    reqs = {r.request_id: r for r in [create_request("a", 3, "short"), create_request("a", 40, "long")]}
    for r in reqs.values():
        s.add(r)
    plans = [step(s, reqs) for _ in range(4)]
    assert [(len(p.decodes), [len(c.token_ids) for c in p.prefills]) for p in plans] == [
        (0, [3, 13]), (1, [15]), (1, [12]), (2, []),
    ]
    assert reqs["long"].num_computed == 41 and len(reqs["long"].output_ids) == 2


def test_a_busy_task_does_not_starve_a_newcomer():
    s = create_scheduler(max_num_seqs=2)
    reqs = {}
    for i in range(10):
        reqs[f"busy{i}"] = create_request("busy", 4, f"busy{i}")
        s.add(reqs[f"busy{i}"])
    step(s, reqs)
    reqs["new"] = create_request("new", 4, "new")
    s.add(reqs["new"])
    s.finish(reqs["busy0"])  # a seat frees up: the newcomer, not the busy task's third request, takes it
    plan = step(s, reqs)
    assert [c.request_id for c in plan.prefills] == ["new"]


def test_tenants_sharing_a_task_are_flows_of_their_own():
    """Two tenants call the same task (base): the busy tenant's queue does not hold the other's request back, as a
    busy task's would not hold another task's; and the waiting counts add up per task and per tenant."""
    s = create_scheduler(max_num_seqs=2)
    reqs = {}
    for i in range(10):
        reqs[f"busy{i}"] = create_request("base", 4, f"busy{i}", tenant="acme")
        s.add(reqs[f"busy{i}"])
    step(s, reqs)
    reqs["other"] = create_request("base", 4, "other", tenant="globex")
    s.add(reqs["other"])
    assert s.num_waiting_of("base") == 9 and s.num_waiting_of_tenant("acme") == 8
    assert s.num_waiting_of_tenant("globex") == 1 and s.count_task("base") == 11
    s.finish(reqs["busy0"])  # a seat frees up: the other tenant's request, not acme's third, takes it
    plan = step(s, reqs)
    assert [c.request_id for c in plan.prefills] == ["other"]


def test_tasks_whose_lut_is_loading_wait_without_blocking_others():
    pool = FakePool(loading={"slow"})
    s = create_scheduler(pool)
    reqs = {r.request_id: r for r in [create_request("slow", 4, "s1"), create_request("fast", 4, "f1")]}
    for r in reqs.values():
        s.add(r)
    plan = step(s, reqs)
    assert [c.request_id for c in plan.chunks] == ["f1"] and s.num_waiting == 1
    pool.loading.clear()
    plan = step(s, reqs)
    assert {c.request_id for c in plan.chunks} == {"s1", "f1"}


def test_a_decode_without_kv_preempts_the_newest_and_everything_is_returned():
    s = create_scheduler(num_blocks=6, block_size=4, max_num_batched_tokens=8)  # 5 usable blocks = 20 tokens
    reqs = {f"r{i}": create_request("a", 12, f"r{i}") for i in range(2)}
    for r in reqs.values():
        s.add(r)
    preempted = []
    for _ in range(40):
        preempted += step(s, reqs).preempted
        for r in [r for r in reqs.values() if len(r.output_ids) == 6 and r.status.value != "finished"]:
            s.finish(r)
    assert all(len(r.output_ids) == 6 for r in reqs.values())
    assert preempted and set(preempted) == {"r1"}  # the newest goes, the oldest keeps decoding
    assert s.blocks.num_used == 0 and s.pool.pins == 0 and not s.has_unfinished()


def test_a_request_admitted_onto_the_last_cached_blocks_gives_them_back_until_it_can_run():
    """Its cached prefix takes the last (idle) blocks and leaves no room for its own chunk: it holds nothing in
    the meantime (a failed step could otherwise leave it on blocks whose K/V were never written)."""
    s = create_scheduler(num_blocks=8, block_size=4, max_num_batched_tokens=32)  # 7 lendable blocks
    reqs = {r.request_id: r for r in [create_request("a", 13, "first"), create_request("a", 13, "again")]}
    s.add(reqs["first"])
    step(s, reqs)  # 13 tokens: 4 blocks, 3 of them full and registered
    s.finish(reqs["first"])  # idle cached: the 3 full blocks; the 4th is free
    hog = create_request("b", 13, "hog")
    reqs["hog"] = hog
    s.add(hog)
    step(s, reqs)  # the 4 free blocks go first
    assert s.blocks.num_free == 3  # only first's idle cached blocks are left
    s.add(reqs["again"])
    plan = step(s, reqs)  # hog decodes into its 4th block; again's 3 cached blocks leave no room for a 4th
    assert "again" not in [c.request_id for c in plan.chunks]
    assert reqs["again"].block_ids == [] and reqs["again"].num_computed == 0 and s.blocks.num_free == 3
    s.finish(hog)
    plan = step(s, reqs)  # blocks free again: it starts on its cached prefix after all
    assert [(c.request_id, c.start_pos, len(c.token_ids)) for c in plan.prefills] == [("again", 12, 1)]
    assert s.prefix_hit_tokens == 12


def launch_only(scheduler: Scheduler, requests: dict[str, Request]):
    """Schedule and mark the plan launched, its tokens left on the device (overlapped scheduling)."""
    plan = scheduler.schedule()
    scheduler.launched([requests[c.request_id] for c in plan.chunks if c.sample], plan.decode_steps)
    return plan


def test_a_request_whose_token_is_on_the_device_decodes_next_as_a_fed_chunk():
    s = create_scheduler()
    reqs = decoding(s, create_request("a", 3, "r0"), create_request("b", 5, "r1"), max_tokens=20)
    first = launch_only(s, reqs)
    assert not any(c.fed for c in first.decodes)  # their tokens are known: the prompts' steps were read back
    second = launch_only(s, reqs)  # scheduled before the first plan's tokens are read back
    assert [c.fed for c in second.decodes] == [True, True] and all(c.sample for c in second.decodes)
    assert [c.start_pos for c in second.decodes] == [4, 6]  # one past the first plan's positions
    assert [r.num_pending for r in reqs.values()] == [2, 2]
    for r in reqs.values():  # the first plan read back: its token known, the second's still pending
        r.output_ids.append(7)
        s.read_back(r, 1)
    assert [r.num_pending for r in reqs.values()] == [1, 1]
    assert [r.num_tokens_total - r.num_computed for r in reqs.values()] == [1, 1]


def test_a_request_whose_pending_tokens_reach_its_max_tokens_is_not_scheduled_again():
    s = create_scheduler()
    reqs = decoding(s, create_request("a", 3, "r0"), create_request("b", 3, "r1"), max_tokens=20)
    reqs["r0"].params.max_tokens = 2  # 1 token so far, 1 pending after the next plan: nothing left to run
    launch_only(s, reqs)
    assert [c.request_id for c in launch_only(s, reqs).decodes] == ["r1"]


def test_a_preempted_request_with_a_pending_token_waits_for_it_before_recomputing():
    s = create_scheduler()
    reqs = decoding(s, create_request("a", 3, "r0"), max_tokens=20)
    launch_only(s, reqs)
    req = reqs["r0"]
    s._preempt(req)
    assert s.schedule().chunks == []  # its token is still on the device: not re-admitted yet
    req.output_ids.append(7)
    s.read_back(req, 1)
    plan = s.schedule()
    [chunk] = plan.prefills  # from its cached prefix (one full block) up to its last known token, then samples
    assert (chunk.request_id, chunk.start_pos + len(chunk.token_ids), chunk.sample) == ("r0", 5, True)


def test_finished_requests_pins_are_held_while_a_plan_is_on_the_device():
    pool = FakePool()
    s = create_scheduler(pool)
    reqs = decoding(s, create_request("a", 3, "r0"), max_tokens=20)
    s.pin_holds = held = []
    s.finish(reqs["r0"])
    assert pool.pins == 1 and held == [("a", 1)]  # the engine releases them once that plan is read back
