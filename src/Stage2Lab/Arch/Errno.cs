namespace Stage2Lab.Arch;

/// <summary>
/// Linux errno values, used as the kernel uses them: an operation returns 0 or a negative errno.
/// Keeping the kernel's convention lets every refusal be compared one to one with the kernel's.
/// </summary>
public static class Errno
{
    public const int EPERM = 1;
    public const int ENOENT = 2;
    public const int EIO = 5;
    public const int E2BIG = 7;
    public const int ENOEXEC = 8;
    public const int EAGAIN = 11;
    public const int ENOMEM = 12;
    public const int EFAULT = 14;
    public const int EEXIST = 17;
    public const int EINVAL = 22;
    public const int ENOSPC = 28;
    public const int ERANGE = 34;

    /// <summary>The symbolic name of a (positive or negative) errno, e.g. "EINVAL".</summary>
    public static string Name(int errno) => Math.Abs(errno) switch
    {
        0 => "OK",
        EPERM => "EPERM",
        ENOENT => "ENOENT",
        EIO => "EIO",
        E2BIG => "E2BIG",
        ENOEXEC => "ENOEXEC",
        EAGAIN => "EAGAIN",
        ENOMEM => "ENOMEM",
        EFAULT => "EFAULT",
        EEXIST => "EEXIST",
        EINVAL => "EINVAL",
        ENOSPC => "ENOSPC",
        ERANGE => "ERANGE",
        var n => "E" + n.ToString(System.Globalization.CultureInfo.InvariantCulture),
    };
}
