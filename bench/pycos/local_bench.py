"""pycos doing the bench's local workloads, in one process with pycos's scheduler.

    python3 local_bench.py [quick|full]           # every workload, RESULT lines
    python3 local_bench.py one WORKLOAD MODE      # (child) one workload
    python3 local_bench.py idle N                 # (child) resident bytes per idle task

Prints RESULT,pycos,<workload>,<value>,<unit> lines in the Rust bench's format, each
the median of several runs (full: 3, quick: 1) after a warm-up run. Each workload runs
in a fresh process, as the Rust bench's do: pycos's scheduler keeps its set of ready
tasks in a Python set, which does not shrink, so after 100,000 tasks have been spawned
every later step of the scheduler walks the emptied table (ping-pong slows from about
4 us to hundreds of us a round trip). pycos has no
request/reply primitive: `call` and `call_chain_3` send the request with the caller's
task and receive the answer, as pycos's own examples do.
"""
import statistics
import subprocess
import sys
import time

import pycos

FULL = dict(spawn=100000, pingpong=200000, call=200000, chain=50000, fanin_each=250000,
            broadcast=10000, idle=100000, repeats=3)
QUICK = dict(spawn=20000, pingpong=20000, call=20000, chain=5000, fanin_each=25000,
             broadcast=1000, idle=20000, repeats=1)


def run(proc, *args):
    """Runs the generator function `proc` as a task and returns its value."""
    return pycos.Task(proc, *args).value()


def quick_proc(state, main, task=None):
    state[0] -= 1
    if state[0] == 0:
        main.send('done')
    yield None


def spawn_complete(n, task=None):
    state = [n]
    start = time.perf_counter()
    for _ in range(n):
        pycos.Task(quick_proc, state, task)
    yield task.receive()
    return (time.perf_counter() - start) / n * 1e9, 'ns/op'


def pong_proc(task=None):
    ping = yield task.receive()
    while True:
        msg = yield task.receive()
        if msg is None:
            break
        ping.send(msg)


def pingpong(n, task=None):
    pong = pycos.Task(pong_proc)
    pong.send(task)
    start = time.perf_counter()
    for i in range(n):
        pong.send(i)
        yield task.receive()
    elapsed = time.perf_counter() - start
    pong.send(None)
    return elapsed / n * 1e9, 'ns/op'


def server_proc(next_server, task=None):
    """Answers (n, client) with n + 1, or asks `next_server` and passes its answer back."""
    while True:
        msg = yield task.receive()
        if msg is None:
            break
        n, client = msg
        if next_server is None:
            client.send(n + 1)
        else:
            next_server.send((n, task))
            answer = yield task.receive()
            client.send(answer)
    if next_server is not None:
        next_server.send(None)


def calls(n, depth, task=None):
    server = None
    for _ in range(depth):
        server = pycos.Task(server_proc, server)
    start = time.perf_counter()
    for i in range(n):
        server.send((i, task))
        answer = yield task.receive()
        assert answer == i + 1
    elapsed = time.perf_counter() - start
    server.send(None)
    return elapsed / n * 1e9, 'ns/op'


def sink_proc(total, main, task=None):
    for _ in range(total):
        yield task.receive()
    main.send('done')


def sender_proc(sink, each, task=None):
    for i in range(each):
        sink.send(i)
        if i % 1000 == 999:
            yield None  # let the scheduler run the others now and then
    yield None


def fanin(senders, each, task=None):
    total = senders * each
    sink = pycos.Task(sink_proc, total, task)
    start = time.perf_counter()
    for _ in range(senders):
        pycos.Task(sender_proc, sink, each)
    yield task.receive()
    return total / (time.perf_counter() - start) / 1e6, 'M msg/s'


def subscriber_proc(n, main, task=None):
    for _ in range(n):
        yield task.receive()
    main.send('done')


_channels = [0]


def broadcast(subscribers, n, task=None):
    _channels[0] += 1
    channel = pycos.Channel('bench-%d' % _channels[0])
    for _ in range(subscribers):
        sub = pycos.Task(subscriber_proc, n, task)
        yield channel.subscribe(sub)
    start = time.perf_counter()
    for i in range(n):
        channel.send(i)
    for _ in range(subscribers):
        yield task.receive()
    elapsed = time.perf_counter() - start
    channel.close()
    return n * subscribers / elapsed / 1e6, 'M msg/s'


def resident_bytes():
    with open('/proc/self/statm') as f:
        return int(f.read().split()[1]) * 4096


def idle_proc(state, task=None):
    state[0] += 1
    yield task.receive()


def idle_spawner(n, task=None):
    state = [0]
    tasks = [pycos.Task(idle_proc, state) for _ in range(n)]
    while state[0] < n:
        yield task.sleep(0.01)
    yield task.sleep(0.05)
    return tasks


def idle_child(n):
    pycos.Pycos()
    before = resident_bytes()
    tasks = run(idle_spawner, n)
    after = resident_bytes()
    print('%.1f' % ((after - before) / n), flush=True)
    return tasks


def idle_memory(n):
    out = subprocess.run([sys.executable, __file__, 'idle', str(n)], capture_output=True,
                         text=True, timeout=600, check=True)
    return float(out.stdout.split()[-1]), 'B/task'


def median_of(repeats, proc, *args):
    run(proc, *args)  # warm-up
    figures = [run(proc, *args) for _ in range(repeats)]
    return statistics.median(f[0] for f in figures), figures[0][1]


WORKLOADS = ['spawn_complete', 'pingpong', 'call', 'call_chain_3', 'fanin_4x',
             'broadcast_100', 'idle_memory']


def one(workload, mode):
    sizes = QUICK if mode == 'quick' else FULL
    reps = sizes['repeats']
    pycos.Pycos()
    workloads = [
        ('spawn_complete', lambda: median_of(reps, spawn_complete, sizes['spawn'])),
        ('pingpong', lambda: median_of(reps, pingpong, sizes['pingpong'])),
        ('call', lambda: median_of(reps, calls, sizes['call'], 1)),
        ('call_chain_3', lambda: median_of(reps, calls, sizes['chain'], 3)),
        ('fanin_4x', lambda: median_of(reps, fanin, 4, sizes['fanin_each'])),
        ('broadcast_100', lambda: median_of(reps, broadcast, 100, sizes['broadcast'])),
        ('idle_memory', lambda: idle_memory(sizes['idle'])),
    ]
    for name, measure in workloads:
        if name == workload:
            value, unit = measure()
            print('RESULT,pycos,%s,%.4f,%s' % (name, value, unit), flush=True)


def main(mode):
    for workload in WORKLOADS:
        out = subprocess.run([sys.executable, __file__, 'one', workload, mode],
                             capture_output=True, text=True, timeout=900)
        lines = [l for l in out.stdout.splitlines() if l.startswith('RESULT,')]
        if out.returncode != 0 or not lines:
            print('pycos %s failed: %s' % (workload, out.stderr.strip()[-500:]),
                  file=sys.stderr, flush=True)
        for line in lines:
            print(line, flush=True)


if __name__ == '__main__':
    if len(sys.argv) > 1 and sys.argv[1] == 'idle':
        kept = idle_child(int(sys.argv[2]))
        sys.stdout.flush()
        import os
        os._exit(0)
    if len(sys.argv) > 3 and sys.argv[1] == 'one':
        one(sys.argv[2], sys.argv[3])
        pycos.Pycos.instance().finish()
        sys.exit(0)
    main(sys.argv[1] if len(sys.argv) > 1 else 'full')
