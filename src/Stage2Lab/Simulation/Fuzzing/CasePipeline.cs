namespace Stage2Lab.Simulation.Fuzzing;

/// <summary>
/// Runs a campaign's cases on <see cref="FuzzOptions.Jobs"/> threads, the calling thread one of them. Each
/// claims a chunk of consecutive case indices, runs it, and hands its outcomes over; whichever thread hands over
/// then counts every outcome that is ready, in index order, into the <see cref="CaseTally"/> (a few additions
/// per case), so that no thread waits to count and no thread is woken per case. A thread never runs more than a
/// window ahead of the count (so a violation or a spent budget wastes little), and once the count ends the
/// threads stop after their chunk. The cases and events counted, and the violation met, are the ones a single
/// thread meets: only the time differs.
/// </summary>
internal sealed class CasePipeline
{
    /// <summary>Cases per claim and hand-over: one lock per chunk of cases of ~0.1 ms each.</summary>
    private const int Chunk = 8;

    private readonly CaseTally _tally;
    private readonly long _end;
    private readonly (CaseChoice? Choice, Outcome Outcome)[] _slots;
    private readonly long[] _ready;
    private readonly object _gate = new();

    // Under _gate: the first case no thread has claimed, the next case the tally counts, whether the count has
    // ended, the first failure of a case, and how many threads wait for the count to move on.
    private long _nextClaim;
    private long _nextCount;
    private bool _ended;
    private Exception? _failure;
    private int _waiting;

    private CasePipeline(CaseTally tally, int jobs, long first, long end)
    {
        _tally = tally;
        _end = end;
        _nextClaim = first;
        _nextCount = first;
        _slots = new (CaseChoice?, Outcome)[jobs * Chunk * 8];
        _ready = new long[_slots.Length];
        Array.Fill(_ready, -1);
    }

    /// <summary>Runs cases <paramref name="first"/> up to <paramref name="end"/> (or until the tally ends) on
    /// <see cref="FuzzOptions.Jobs"/> threads, this one running with <paramref name="runner"/>.</summary>
    public static void Run(CaseRunner runner, CaseTally tally, long first, long end)
    {
        FuzzOptions options = runner.Options;
        var pipeline = new CasePipeline(tally, options.Jobs, first, end);
        var threads = new Thread[options.Jobs - 1];
        for (int t = 0; t < threads.Length; t++)
        {
            // Each thread its own runner, made on the thread: its table pages and scratch are its own.
            threads[t] = new Thread(() => pipeline.Work(new CaseRunner(options))) { IsBackground = true, Name = $"fuzz case runner {t + 2}" };
            threads[t].Start();
        }
        pipeline.Work(runner);
        foreach (Thread t in threads)
            t.Join();
        if (pipeline._failure is not null)
            throw new InvalidOperationException("a fuzz case failed on a worker thread", pipeline._failure);
    }

    private void Work(CaseRunner runner)
    {
        try
        {
            RunChunks(runner);
        }
        catch (Exception ex)
        {
            // A case (or the progress report) failed: every thread stops, and the campaign rethrows it.
            lock (_gate)
            {
                _failure ??= ex;
                _ended = true;
                Monitor.PulseAll(_gate);
            }
        }
    }

    private void RunChunks(CaseRunner runner)
    {
        var done = new (CaseChoice?, Outcome)[Chunk];
        long first = 0;
        int count = 0;
        while (true)
        {
            lock (_gate)
            {
                if (count > 0)
                    HandOver(first, done, count);
                // Not more than a window ahead of the count: the chunk's slots must be free.
                while (!_ended && _nextClaim < _end && _nextClaim + Chunk - _nextCount > _slots.Length)
                {
                    _waiting++;
                    Monitor.Wait(_gate);
                    _waiting--;
                }
                if (_ended || _nextClaim >= _end)
                    return;
                first = _nextClaim;
                count = (int)Math.Min(Chunk, _end - first);
                _nextClaim += count;
            }
            for (int i = 0; i < count; i++)
                done[i] = Fuzzer.Case(runner, first + i);
        }
    }

    /// <summary>Puts a chunk's outcomes in their slots, then counts whatever is ready in index order. Under the lock.</summary>
    private void HandOver(long first, (CaseChoice?, Outcome)[] done, int count)
    {
        for (int i = 0; i < count; i++)
        {
            int slot = (int)((first + i) % _slots.Length);
            _slots[slot] = done[i];
            _ready[slot] = first + i;
            done[i] = default;
        }
        while (!_ended)
        {
            if (_nextCount >= _end || !_tally.Wants())
            {
                _ended = true;
                break;
            }
            int slot = (int)(_nextCount % _slots.Length);
            if (_ready[slot] != _nextCount)
                break;
            var (choice, outcome) = _slots[slot];
            _slots[slot] = default;
            if (!_tally.Add(_nextCount, choice!, outcome))
                _ended = true;
            _nextCount++;
        }
        if (_waiting > 0)
            Monitor.PulseAll(_gate);
    }
}
