"""pycos's netpycos doing the bench's remote workloads: two programs on loopback.

    python3 netpycos_bench.py server            # prints "PORT <n>", serves until killed
    python3 netpycos_bench.py client PORT N M   # N one-way messages, M round trips

The client prints RESULT lines in the bench's format:
RESULT,pycos,remote_oneway,<M msg/s>,M msg/s and RESULT,pycos,remote_rtt,<ns>,ns/op.
"""
import sys
import time

import pycos
import pycos.netpycos as netpycos

SECRET = 'the bench secret'


def sink_proc(task=None):
    """Counts messages; on ('done', n, client) answers the client once n have come."""
    task.set_daemon()
    task.register('sink')
    count = 0
    while True:
        msg = yield task.receive()
        if isinstance(msg, tuple) and msg[0] == 'done':
            _, n, client = msg
            while count < n:
                msg = yield task.receive()
                count += 1
            client.send(count)
            count = 0
        else:
            count += 1


def echo_proc(task=None):
    task.set_daemon()
    task.register('echo')
    while True:
        msg = yield task.receive()
        i, client = msg
        client.send(i)


def server():
    scheduler = netpycos.Pycos(tcp_port=0, secret=SECRET, discover_peers=False,
                               host='127.0.0.1')
    pycos.Task(sink_proc)
    pycos.Task(echo_proc)
    print('PORT %d' % scheduler.location.port, flush=True)
    while True:
        time.sleep(3600)


def client_proc(port, n, m, task=None):
    yield netpycos.Pycos().peer(pycos.Location('127.0.0.1', port))
    sink = yield pycos.Task.locate('sink', location=pycos.Location('127.0.0.1', port),
                                   timeout=10)
    echo = yield pycos.Task.locate('echo', location=pycos.Location('127.0.0.1', port),
                                   timeout=10)
    start = time.perf_counter()
    for i in range(n):
        sink.send(i)
    sink.send(('done', n, task))
    got = yield task.receive(timeout=600)
    elapsed = time.perf_counter() - start
    if got != n:
        print('sink counted %r of %d' % (got, n), file=sys.stderr)
    print('RESULT,pycos,remote_oneway,%.4f,M msg/s' % (n / elapsed / 1e6), flush=True)
    start = time.perf_counter()
    for i in range(m):
        echo.send((i, task))
        back = yield task.receive(timeout=60)
        if back != i:
            print('echo answered %r for %d' % (back, i), file=sys.stderr)
            break
    elapsed = time.perf_counter() - start
    print('RESULT,pycos,remote_rtt,%.1f,ns/op' % (elapsed / m * 1e9), flush=True)


def client(port, n, m):
    netpycos.Pycos(tcp_port=0, secret=SECRET, discover_peers=False, host='127.0.0.1')
    pycos.Task(client_proc, port, n, m).value()


if __name__ == '__main__':
    if sys.argv[1] == 'server':
        server()
    else:
        client(int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]))
