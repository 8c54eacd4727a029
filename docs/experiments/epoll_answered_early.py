"""Experiment (issue 14): can the supervisor make an event loop's timed waits virtual, as it does sleeps?

    python docs/experiments/epoll_answered_early.py

A child process under a seccomp filter that stops every epoll_wait/epoll_pwait runs CPython's own
`asyncio.sleep(0.5)` (not the kit's); the judge's side answers every wait that has a timeout at once, "no
events", as the supervisor answers a nanosleep. Measured on 2026-12-02 (three runs): the sleep still took 0.50 s
of real time, and the loop asked again 6 585 to 43 671 times, as busy as the machine was. asyncio reads its clock (time.monotonic) through the vDSO, without a
system call a supervisor could stop or answer, so a wait answered early is asked again until the real time
has passed: the supervisor cannot make such waits virtual, only spin them. The kit therefore routes
`asyncio.sleep` to a nanosleep of the asked length inside the process, where the supervisor sees and answers
it (SECURITY.md, "What the supervisor sees").
"""
import ctypes
import os
import socket
import time

import pyseccomp

from alfred.sandbox import supervisor as S

EPOLL_WAIT, EPOLL_PWAIT = 232, 281
def program():
    rules = pyseccomp.SyscallFilter(pyseccomp.ALLOW)
    for name in ("epoll_wait", "epoll_pwait"):
        rules.add_rule(pyseccomp.NOTIFY, name)
    r, w = os.pipe()
    with os.fdopen(w, "wb") as f: rules.export_bpf(f)
    with os.fdopen(r, "rb") as f: return f.read()

class EpollAnswering(S.Supervisor):
    stops = 0
    def _answer(self, pid, number, args):
        timeout = ctypes.c_int32(args[3] & 0xffffffff).value
        if timeout > 0:
            EpollAnswering.stops += 1
            return 0, 0  # "no events: the timeout passed"
        return 0, 1  # SECCOMP_USER_NOTIF_FLAG_CONTINUE: let the kernel run it

judge, child = socket.socketpair()
prog = program()
pid = os.fork()
if pid == 0:
    judge.close()
    S.listen_for_the_judge(child, prog)
    import asyncio
    t = time.monotonic()
    asyncio.run(asyncio.sleep(0.5))
    os.write(child.fileno(), f"{time.monotonic() - t:.3f}".encode())
    os._exit(0)
child.close()
_, fds, _, _ = socket.recv_fds(judge, 1, 1)
sup = EpollAnswering(fds[0])
os.waitpid(pid, 0)
print("asyncio.sleep(0.5) took", judge.recv(100).decode(), "s of real time; epoll_wait stops answered at once:", EpollAnswering.stops)
sup.stop()
