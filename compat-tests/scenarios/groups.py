"""Consumer-group scenarios, shared by the client files (confluent.py, kpython.py, aiok.py, kafkajs.py),
which register them with `scenarios(client)`. The harness (agents, waits, checks) is grouplib.py.

Most scenarios use the `groups` broker (group.initial.rebalance.delay.ms=0); `group_initial_delay`
uses the main broker (default 3000 ms) and `group_restart` its own broker.
"""

import json
import re
import signal
import sys
import time

from common import check, eq, topic_name, boot, boot_groups, OwnBroker, confluent_create_topic
from grouplib import (SHORT, Agent, all_states, check_exactly_once, check_member_ids_stable, committed,
                      committed_meta, cons, consumed, expected_owned, group_name, linger, produce, split_ok,
                      stop_agents, total, wait, wait_stable)


# ----------------------------------------------------------------------------- scenarios

def handover(client):
    """Two members split 6 partitions 3+3; one leaves (LeaveGroup) and the other takes all 6 and
    reads the rest: every record consumed exactly once across the handover."""
    b = boot_groups()
    t = topic_name(f"{SHORT[client]}-handover")
    confluent_create_topic(t, 6, bootstrap=b)
    g = group_name(client, "handover")
    exp = produce(b, t, {p: 50 for p in range(6)})
    try:
        A = Agent(client, [cons("a", g, [t])], b, "A")
        wait(lambda: A["a"].owned, 30, "the first member's assignment")
        B = Agent(client, [cons("b", g, [t])], b, "B")
        sa, sb = A["a"], B["b"]
        wait_stable(lambda: split_ok([sa, sb], t, 6, [3, 3]) and total([sa, sb]) == 300, 40,
                    "a 3+3 split of 6 partitions and all 300 records consumed")
        want = expected_owned(client, ["a", "b"], 6)
        eq({"a": sa.parts(), "b": sb.parts()}, want, "assignment of the two members (the client's default assignor)")
        # both consume their own partitions
        exp2 = produce(b, t, {p: 10 for p in range(6)}, start={p: 50 for p in range(6)})
        wait(lambda: total([sa, sb]) >= 360, 30, "the second 60 records")
        owner = {p: "a" for p in sa.parts()} | {p: "b" for p in sb.parts()}
        for s in (sa, sb):
            for r in s.recs:
                if (r[0], r[1], r[2]) in exp2:
                    eq(s.name, owner[r[1]], f"consumer of partition {r[1]} offset {r[2]} (owner {owner[r[1]]})")
        # a leaves: b must get all 6 at once (LeaveGroup, not a session timeout of 10 s)
        n_assign = len(sb.of("assign"))
        closed = A.close("a")
        t_close = closed["t"]
        wait(lambda: sb.parts() == list(range(6)) and len(sb.of("assign")) > n_assign, 20,
             "the remaining member to own all 6 partitions")
        dt = sb.of("assign")[-1]["t"] - t_close
        check(dt < 5.0, f"the remaining member got the leaving member's partitions {dt:.1f}s after it closed "
                        f"(LeaveGroup should rebalance at once, not after the 10 s session timeout)")
        exp3 = produce(b, t, {p: 20 for p in range(6)}, start={p: 60 for p in range(6)})
        wait(lambda: total([sa, sb]) >= 480, 30, "all 480 records")
        linger()
        allexp = exp | exp2 | exp3
        check_exactly_once(consumed([sa, sb]), allexp, "records over the whole group")
        check_member_ids_stable([sa, sb], "handover")
        late = [r for r in sa.recs if (r[0], r[1], r[2]) in exp3]
        check(not late, f"the closed member reported records produced after it left: {late[:3]}")
        eq(committed(client, b, g, t, 6), {p: (80, committed_meta(client)) for p in range(6)},
           "committed offsets after the handover (client API)")
    finally:
        stop_agents()


def resume(client):
    """Commit chosen offsets (with metadata), close; a new member of the group resumes exactly
    there: no record before the committed offset, none twice, none missing."""
    b = boot_groups()
    t = topic_name(f"{SHORT[client]}-resume")
    confluent_create_topic(t, 3, bootstrap=b)
    g = group_name(client, "resume")
    exp = produce(b, t, {p: 30 for p in range(3)})
    offs = {0: 7, 1: 15, 2: 30}
    meta = {p: f"meta {client} p{p} \u00e9" for p in range(3)}
    # aiokafka's committed() returns the offset only; its metadata is read back with the admin client
    try:
        A = Agent(client, [cons("a", g, [t], commit="manual")], b, "A")
        sa = A["a"]
        wait(lambda: len(sa.recs) >= 90, 40, "the first member to read all 90 records")
        check_exactly_once(sa.recs, exp, "records read by the first member")
        ev = A.commit("a", [(t, p, offs[p], meta[p]) for p in range(3)])
        check(ev["ok"], f"OffsetCommit of {offs} failed: {ev['error']}")
        ev = A.committed("a", [(t, p) for p in range(3)])
        check("error" not in ev, f"committed() from the member failed: {ev.get('error')}")
        got = {o[1]: (o[2], o[3]) for o in ev["offsets"]}
        want = {p: (offs[p], None if client == "aiokafka" else meta[p]) for p in range(3)}
        eq(got, want, "committed() (offset, metadata) from the member that committed")
        A.close("a")
        want = {p: (offs[p], meta[p]) for p in range(3)}
        eq(committed(client, b, g, t, 3), want, "committed offsets and metadata after the member closed (client API)")
        exp2 = produce(b, t, {p: 10 for p in range(3)}, start={p: 30 for p in range(3)})
        B = Agent(client, [cons("b", g, [t], commit="manual")], b, "B")
        sb = B["b"]
        resumed = {k: v for k, v in (exp | exp2).items() if k[2] >= offs[k[1]]}
        wait(lambda: len(sb.recs) >= len(resumed), 40, f"the new member to read the {len(resumed)} records "
                                                         f"from the committed offsets on")
        linger()
        first = {p: min((r[2] for r in sb.recs if r[1] == p), default=None) for p in range(3)}
        eq(first, offs, "first offset the new member read per partition (= committed offset)")
        check_exactly_once(sb.recs, resumed, "records read by the new member")
    finally:
        stop_agents()


def two_groups(client):
    """Two groups on one topic each get every record, and each keeps its own offsets."""
    b = boot_groups()
    t = topic_name(f"{SHORT[client]}-2groups")
    confluent_create_topic(t, 4, bootstrap=b)
    g1, g2 = group_name(client, "g1"), group_name(client, "g2")
    exp = produce(b, t, {p: 50 for p in range(4)})
    try:
        A = Agent(client, [cons("g1a", g1, [t]), cons("g1b", g1, [t]), cons("g2a", g2, [t])], b, "A")
        s1 = [A["g1a"], A["g1b"]]
        s2 = [A["g2a"]]
        wait_stable(lambda: total(s1) == 200 and total(s2) == 200 and split_ok(s1, t, 4, [2, 2])
                    and split_ok(s2, t, 4), 40, "both groups to read all 200 records (group 1 split 2+2)")
        exp2 = produce(b, t, {p: 5 for p in range(4)}, start={p: 50 for p in range(4)})
        wait(lambda: total(s1) >= 220 and total(s2) >= 220, 30, "both groups to read 20 more records")
        linger()
        check_exactly_once(consumed(s1), exp | exp2, "group 1 (two members)")
        check_exactly_once(consumed(s2), exp | exp2, "group 2 (one member)")
        A.close("g2a")
        # group 2 commits are its own: group 1's member leaving later does not change them
        A.close("g1a")
        eq(committed(client, b, g1, t, 4), {p: (55, committed_meta(client)) for p in range(4)},
           "group 1 committed offsets")
        eq(committed(client, b, g2, t, 4), {p: (55, committed_meta(client)) for p in range(4)},
           "group 2 committed offsets")
    finally:
        stop_agents()


def kill9_evict(client):
    """A member killed with kill -9 is evicted after its session timeout (6 s), not at once and
    not much later; the survivor gets its partitions and reads them from the committed offsets."""
    b = boot_groups()
    t = topic_name(f"{SHORT[client]}-kill9")
    confluent_create_topic(t, 4, bootstrap=b)
    g = group_name(client, "kill9")
    session = 6000
    exp = produce(b, t, {p: 20 for p in range(4)})
    try:
        V = Agent(client, [cons("victim", g, [t], session_ms=session)], b, "V")
        wait(lambda: V["victim"].owned, 30, "the first member's assignment")
        S = Agent(client, [cons("survivor", g, [t], session_ms=session)], b, "S")
        sv, ss = V["victim"], S["survivor"]
        wait_stable(lambda: split_ok([sv, ss], t, 4, [2, 2]) and total([sv, ss]) == 80, 40,
                    "a 2+2 split and all 80 records consumed")
        victim_parts = sv.parts()
        n_assign = len(ss.of("assign"))
        t_kill = time.time()
        V.kill9()
        exp2 = produce(b, t, {p: 10 for p in range(4)}, start={p: 20 for p in range(4)})
        wait(lambda: ss.parts() == [0, 1, 2, 3] and len(ss.of("assign")) > n_assign, 3 * session / 1000 + 10,
             "the survivor to own all 4 partitions after the kill")
        dt = ss.of("assign")[-1]["t"] - t_kill
        lo, hi = 0.6 * session / 1000, 3 * session / 1000
        check(lo <= dt <= hi, f"the survivor got the killed member's partitions {dt:.1f}s after kill -9 "
                              f"(expected about the session timeout {session / 1000:.0f}s: between {lo:.1f}s and {hi:.0f}s)")
        wait(lambda: total([sv, ss]) >= 120, 30, "all 120 records")
        linger()
        check_exactly_once(consumed([sv, ss]), exp | exp2, "records over the group (victim's before the kill, "
                                                             "survivor's)")
        check_member_ids_stable([ss], "kill -9 eviction")
        moved = sorted({r[2] for r in ss.recs if r[1] in victim_parts})
        check(moved and min(moved) == 20, f"the survivor read the victim's partitions {victim_parts} from offset "
                                          f"{min(moved) if moved else None} (expected the victim's commit, 20)")
        print(f"# kill -9 -> reassignment in {dt:.2f}s (session.timeout.ms={session})", file=sys.stderr)
    finally:
        stop_agents()


def many_groups(client, ngroups=20):
    """20 groups of 2 members rebalance at once on one topic: each group ends split 2+2 and reads
    every record exactly once; no client reports UNKNOWN_MEMBER_ID; DescribeGroups shows each group
    Stable with exactly its own two members."""
    b = boot_groups()
    t = topic_name(f"{SHORT[client]}-many")
    confluent_create_topic(t, 4, bootstrap=b)
    groups = [group_name(client, f"m{i:02d}") for i in range(ngroups)]
    exp = produce(b, t, {p: 25 for p in range(4)})
    try:
        # librdkafka reports a heartbeat/join answered UNKNOWN_MEMBER_ID only in its cgrp debug log
        extra = {"extra": {"debug": "cgrp"}} if client == "confluent" else {}
        A = Agent(client, [cons(f"g{i:02d}{m}", g, [t], **extra) for i, g in enumerate(groups) for m in "ab"], b, "A")
        per = {g: [A[f"g{i:02d}a"], A[f"g{i:02d}b"]] for i, g in enumerate(groups)}

        def settled():
            return all(split_ok(s, t, 4, [2, 2]) and total(s) == 100 for s in per.values())
        wait_stable(settled, 90, f"all {ngroups} groups split 2+2 with 100 records each", hold=1.5)
        exp2 = produce(b, t, {p: 5 for p in range(4)}, start={p: 25 for p in range(4)})
        wait(lambda: all(total(s) >= 120 for s in per.values()), 40, "20 more records in every group")
        linger()
        for g, s in per.items():
            check_exactly_once(consumed(s), exp | exp2, f"group {g}")
        leaks = [(st.name, e.get("msg") or e.get("error")) for st in all_states()
                 for e in st.of("log", "commit_error", "error")
                 if re.search(r"UNKNOWN_?MEMBER|UnknownMember|Unknown member|not aware of this member", json.dumps(e), re.I)]
        check(not leaks, f"{len(leaks)} UNKNOWN_MEMBER_ID reports, first: {leaks[:1]}")
        check_member_ids_stable(all_states(), f"{ngroups} groups rebalancing at once")
        # the broker's view: every group Stable with exactly the two members that own its partitions
        from confluent_kafka.admin import AdminClient
        a = AdminClient({"bootstrap.servers": b})
        fs = a.describe_consumer_groups(groups, request_timeout=20)
        for i, g in enumerate(groups):
            d = fs[g].result(timeout=30)
            eq(str(d.state.name), "STABLE", f"state of group {g}")
            got = sorted((m.client_id, sorted(tp.partition for tp in m.assignment.topic_partitions))
                         for m in d.members)
            want = sorted((s.name, s.parts()) for s in per[g])
            eq(got, want, f"members of group {g} (client id, assigned partitions) in DescribeGroups")
            if client != "kafkajs" or all(s.member for s in per[g]):
                eq(sorted(m.member_id for m in d.members), sorted(s.member for s in per[g]),
                   f"member ids of group {g} in DescribeGroups vs. the ones the clients hold")
        rebal = max(len(s.of("assign")) for ss in per.values() for s in ss)
        print(f"# max assignments per consumer: {rebal}", file=sys.stderr)
    finally:
        stop_agents()


def restart(client):
    """Groups and committed offsets survive a clean restart (SIGTERM) and a kill -9 of the broker:
    the same offsets and metadata after each, a live member keeps consuming exactly once across
    both, and a new member resumes from the committed offsets."""
    b = OwnBroker(f"groups-{SHORT[client]}", ["--set", "group.initial.rebalance.delay.ms=0"])
    b.start()
    addr = b.addr
    try:
        t = "compat-group-restart"
        confluent_create_topic(t, 3, bootstrap=addr)
        g1, g2 = group_name(client, "closed"), group_name(client, "live")
        exp = produce(addr, t, {p: 20 for p in range(3)})
        offs = {0: 5, 1: 12, 2: 20}
        meta = {p: f"restart-{p}" for p in range(3)}
        A = Agent(client, [cons("a", g1, [t], commit="manual")], addr, "A")
        wait(lambda: len(A["a"].recs) >= 60, 40, "the first member to read 60 records")
        ev = A.commit("a", [(t, p, offs[p], meta[p]) for p in range(3)])
        check(ev["ok"], f"OffsetCommit failed: {ev['error']}")
        A.close("a")
        B = Agent(client, [cons("b", g2, [t])], addr, "B")
        sb = B["b"]
        wait(lambda: len(sb.recs) >= 60, 40, "the live member to read (and commit) 60 records")
        want1 = {p: (offs[p], meta[p]) for p in range(3)}
        eq(committed(client, addr, g1, t, 3), want1, "group 1 committed offsets before the restart")

        def listed():
            from confluent_kafka.admin import AdminClient
            a = AdminClient({"bootstrap.servers": addr})
            res = a.list_consumer_groups(request_timeout=15).result(timeout=20)
            return {x.group_id: x.state.name for x in res.valid}

        def after(what, live_total):
            eq(committed(client, addr, g1, t, 3), want1, f"group 1 committed offsets and metadata after {what}")
            wait(lambda: len(sb.recs) >= live_total, 40, f"the live member to commit {live_total} records after {what}")
            eq(committed(client, addr, g2, t, 3), {p: (live_total // 3, committed_meta(client)) for p in range(3)},
               f"group 2 committed offsets after {what}")
            st = listed()
            eq(st.get(g1), "EMPTY", f"group 1 state in ListGroups after {what}")
            check(st.get(g2) in ("STABLE", "PREPARING_REBALANCING", "COMPLETING_REBALANCING"),
                  f"group 2 (live member) in ListGroups after {what}: {st.get(g2)}")

        b.proc.send_signal(signal.SIGTERM)
        eq(b.proc.wait(20), 0, "broker exit code after SIGTERM")
        b.start()
        exp2 = produce(addr, t, {p: 10 for p in range(3)}, start={p: 20 for p in range(3)})
        after("a SIGTERM restart", 90)
        b.proc.kill()
        b.proc.wait()
        b.start()
        exp3 = produce(addr, t, {p: 10 for p in range(3)}, start={p: 30 for p in range(3)})
        after("kill -9 and restart", 120)
        linger()
        allexp = exp | exp2 | exp3
        check_exactly_once(sb.recs, allexp, "the live member's records across both restarts")
        check_member_ids_stable([sb], "the live member across both broker restarts (its group was replayed)")
        C = Agent(client, [cons("c", g1, [t], commit="manual")], addr, "C")
        sc = C["c"]
        resumed = {k: v for k, v in allexp.items() if k[2] >= offs[k[1]]}
        wait(lambda: len(sc.recs) >= len(resumed), 40, f"a new member of group 1 to read {len(resumed)} records")
        linger()
        check_exactly_once(sc.recs, resumed, "the new member of group 1 (from the offsets committed before both restarts)")
        print(f"# live member: {len(sb.of('assign'))} assignments over the two restarts", file=sys.stderr)
    finally:
        stop_agents()
        b.stop()


def cooperative(client):
    """cooperative-sticky: members join one after the other and one leaves; incremental callbacks
    only (a member never gives up a partition it keeps), every partition owned exactly once."""
    b = boot_groups()
    t = topic_name(f"{SHORT[client]}-coop")
    confluent_create_topic(t, 6, bootstrap=b)
    g = group_name(client, "coop")
    exp = produce(b, t, {p: 30 for p in range(6)})
    try:
        A = Agent(client, [cons("a", g, [t], strategy="cooperative-sticky")], b, "A")
        sa = A["a"]
        wait(lambda: sa.parts() == list(range(6)), 30, "the first member to own all 6 partitions")
        B = Agent(client, [cons("b", g, [t], strategy="cooperative-sticky")], b, "B")
        sb = B["b"]
        wait_stable(lambda: split_ok([sa, sb], t, 6, [3, 3]) and total([sa, sb]) == 180, 40,
                    "a 3+3 split and all 180 records consumed")
        for s in (sa, sb):
            modes = {e["mode"] for e in s.of("assign", "revoke")}
            eq(modes, {"incr"}, f"rebalance callbacks of {s.name} (cooperative protocol = incremental)")
        # a kept its 3 partitions throughout: it only ever revoked the 3 that moved to b
        a_first = sa.of("assign")[0]["t"]
        owned_after = [len(e["owned"]) for e in sa.of("assign", "revoke") if e["t"] >= a_first]
        check(min(owned_after) >= 3, f"a's assignment went down to {min(owned_after)} partitions during the "
                                     f"cooperative rebalance (sizes {owned_after})")
        revoked = sorted(p for e in sa.of("revoke") for _, p in e["removed"])
        eq(revoked, sb.parts(), "partitions a revoked (exactly the ones b got)")
        check(not sb.of("revoke"), f"b revoked partitions: {sb.of('revoke')}")
        exp2 = produce(b, t, {p: 10 for p in range(6)}, start={p: 30 for p in range(6)})
        wait(lambda: total([sa, sb]) >= 240, 30, "60 more records")
        n_a_revoke = len(sa.of("revoke"))
        B.close("b")
        wait(lambda: sa.parts() == list(range(6)), 20, "a to own all 6 partitions after b left")
        last = sa.of("assign")[-1]
        eq(sorted(p for _, p in last["added"]), revoked, "partitions incrementally added to a when b left")
        eq(len(sa.of("revoke")), n_a_revoke, "revocations of a when b left (none: it keeps its partitions)")
        exp3 = produce(b, t, {p: 10 for p in range(6)}, start={p: 40 for p in range(6)})
        wait(lambda: total([sa, sb]) >= 300, 30, "all 300 records")
        linger()
        check_exactly_once(consumed([sa, sb]), exp | exp2 | exp3, "records over the group")
        check_member_ids_stable([sa, sb], "cooperative rebalancing")
    finally:
        stop_agents()


def static_membership(client):
    """group.instance.id: a static member closes (no LeaveGroup) and comes back within the session
    timeout: it gets the same partitions without a rebalance (the other member sees no callback)."""
    b = boot_groups()
    t = topic_name(f"{SHORT[client]}-static")
    confluent_create_topic(t, 4, bootstrap=b)
    g = group_name(client, "static")
    session = 15000
    exp = produce(b, t, {p: 20 for p in range(4)})
    try:
        A = Agent(client, [cons("a", g, [t], instance_id="inst-a", session_ms=session)], b, "A")
        wait(lambda: A["a"].owned, 30, "the first static member's assignment")
        B = Agent(client, [cons("b", g, [t], instance_id="inst-b", session_ms=session)], b, "B")
        sa, sb = A["a"], B["b"]
        wait_stable(lambda: split_ok([sa, sb], t, 4, [2, 2]) and total([sa, sb]) == 80, 40,
                    "a 2+2 split and all 80 records consumed")
        a_parts, b_parts = sa.parts(), sb.parts()
        b_events = len(sb.of("assign", "revoke", "lost"))
        from confluent_kafka.admin import AdminClient
        adm = AdminClient({"bootstrap.servers": b})

        def describe():
            d = adm.describe_consumer_groups([g], request_timeout=15)[g].result(timeout=20)
            return d.state.name, sorted((m.group_instance_id, m.member_id,
                                         sorted(tp.partition for tp in m.assignment.topic_partitions))
                                        for m in d.members)
        state0, members0 = describe()
        eq((state0, [(m[0], m[2]) for m in members0]), ("STABLE", [("inst-a", a_parts), ("inst-b", b_parts)]),
           "DescribeGroups before the restart (state, instance ids, partitions)")
        t_close = time.time()
        A.close("a")
        # still two members: a static member's close sends no LeaveGroup
        state1, members1 = describe()
        eq((state1, members1), (state0, members0), "DescribeGroups right after the static member closed")
        exp2 = produce(b, t, {p: 10 for p in range(4)}, start={p: 20 for p in range(4)})
        A2 = Agent(client, [cons("a", g, [t], instance_id="inst-a", session_ms=session)], b, "A2")
        sa2 = A2["a"]
        wait(lambda: sa2.of("assign"), 20, "the restarted static member's assignment")
        back = sa2.of("assign")[0]["t"] - t_close
        eq(sa2.parts(), a_parts, "partitions of the restarted static member (same as before)")
        wait(lambda: total([sa, sa2, sb]) >= 120, 30, "all 120 records")
        linger(2.0)
        eq(len(sb.of("assign", "revoke", "lost")), b_events,
           "rebalance callbacks of the other member while the static member restarted (none: no rebalance)")
        eq(sb.parts(), b_parts, "the other member's partitions")
        state2, members2 = describe()
        eq((state2, [(m[0], m[2]) for m in members2]), ("STABLE", [("inst-a", a_parts), ("inst-b", b_parts)]),
           "DescribeGroups after the restart")
        eq([m[1] for m in members2 if m[0] == "inst-b"], [m[1] for m in members0 if m[0] == "inst-b"],
           "member id of the other static member (unchanged)")
        check_exactly_once(consumed([sa, sa2, sb]), exp | exp2, "records over the group")
        check(back < session / 1000, f"restart took {back:.1f}s, not within the session timeout")
    finally:
        stop_agents()


def initial_delay(client):
    """On the main broker (group.initial.rebalance.delay.ms default 3000): two members joining
    within the delay get their first assignment together, 3+3, no earlier than the delay."""
    b = boot()
    t = topic_name(f"{SHORT[client]}-delay")
    confluent_create_topic(t, 6, bootstrap=b)
    g = group_name(client, "delay")
    exp = produce(b, t, {p: 10 for p in range(6)})
    try:
        A = Agent(client, [cons("a", g, [t])], b, "A")
        wait(lambda: A["a"].subscribed, 20, "the first member to subscribe")
        time.sleep(1.0)
        B = Agent(client, [cons("b", g, [t])], b, "B")
        sa, sb = A["a"], B["b"]
        wait(lambda: sa.of("assign") and sb.of("assign"), 30, "both members' first assignment")
        first = {s.name: sorted(p for _, p in s.of("assign")[0]["owned"]) for s in (sa, sb)}
        eq(first, expected_owned(client, ["a", "b"], 6), "first assignment of each member (one generation for both)")
        dt = sa.of("assign")[0]["t"] - sa.subscribed
        check(2.5 <= dt <= 20, f"first assignment {dt:.1f}s after the first member subscribed "
                               f"(group.initial.rebalance.delay.ms=3000 should hold it >= ~3s)")
        wait(lambda: total([sa, sb]) >= 60, 30, "all 60 records")
        linger()
        check_exactly_once(consumed([sa, sb]), exp, "records over the group")
    finally:
        stop_agents()


# ----------------------------------------------------------------------------- registration

def scenarios(client):
    s = {
        "group_handover": lambda: handover(client),
        "group_resume": lambda: resume(client),
        "group_two_groups": lambda: two_groups(client),
        "group_kill9_evict": lambda: kill9_evict(client),
        "group_many_20": lambda: many_groups(client),
        "group_restart": lambda: restart(client),
        "group_admin": lambda: __import__("groups_admin").ADMIN[client](),
    }
    if client in ("confluent", "kafka-python"):
        s["group_cooperative"] = lambda: cooperative(client)
    if client in ("confluent", "kafka-python", "aiokafka"):
        s["group_static"] = lambda: static_membership(client)
    if client == "confluent":
        s["group_initial_delay"] = lambda: initial_delay(client)
    return s
