namespace Stage2Lab.Host;

/// <summary>The outcome of a host-side change: 0, or the kernel's errno and a sentence saying why.</summary>
public readonly record struct HostResult(int Errno, string? Message)
{
    public static HostResult Ok => default;

    public bool Succeeded => Errno == 0;

    public static HostResult Fail(int errno, string message) => new(errno, message);
}
