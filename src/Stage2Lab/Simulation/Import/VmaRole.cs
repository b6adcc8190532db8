using System.Globalization;
using System.Text.RegularExpressions;

namespace Stage2Lab.Simulation.Import;

/// <summary>What a VMA of the VMM is, as far as stage 2 cares.</summary>
public enum VmaRole : byte
{
    /// <summary>Code, stacks, ordinary files: never guest memory.</summary>
    Other,
    /// <summary>Private or shared anonymous memory (guest RAM without a memory backend file).</summary>
    Anonymous,
    /// <summary>shmem: /dev/shm files, memfd, QEMU's file memory backend (qemu_back_mem.*).</summary>
    Shmem,
    /// <summary>hugetlbfs (VmFlags `ht`, a KernelPageSize above the base page, or a hugetlbfs path).</summary>
    Hugetlb,
    /// <summary>A vfio-pci BAR mmap: `anon_inode:[vfio-device]` or a /dev/vfio file.</summary>
    Vfio,
    /// <summary>Another VM_PFNMAP mapping (VmFlags `pf`), e.g. /dev/mem.</summary>
    PfnMap,
}

/// <summary>Classifies VMAs by path, VmFlags and page size (fs/proc/task_mmu.c show_smap_vma_flags mnemonics).</summary>
public static partial class VmaClassifier
{
    /// <summary>
    /// Anonymous or shmem VMAs at least this large are taken as guest RAM when no guest-side record says which
    /// VMAs are (an assumption, listed): a VMM's own heaps and thread arenas are smaller (glibc arenas are 64 MiB).
    /// </summary>
    public const ulong MinGuestRamBytes = 256UL << 20;

    public static VmaRole Classify(VmaRecord v, ulong pageSizeBytes)
    {
        string path = v.Path;
        if (path.StartsWith("anon_inode:[vfio-device]", StringComparison.Ordinal) || path.StartsWith("/dev/vfio/", StringComparison.Ordinal))
            return VmaRole.Vfio;
        if (v.HasFlag("ht") || (v.KernelPageSizeBytes is { } kps && kps > pageSizeBytes) || path.Contains("hugepages", StringComparison.Ordinal) || path.Contains("hugetlbfs", StringComparison.Ordinal))
            return VmaRole.Hugetlb;
        if (v.HasFlag("pf"))
            return VmaRole.PfnMap;
        if (path.Length == 0 || path.StartsWith("[anon", StringComparison.Ordinal))
            return VmaRole.Anonymous;
        if (path.StartsWith("/dev/shm/", StringComparison.Ordinal) || path.StartsWith("/memfd:", StringComparison.Ordinal) || path.StartsWith("memfd:", StringComparison.Ordinal) ||
            path.Contains("qemu_back_mem", StringComparison.Ordinal) || path.Contains("memory-backend", StringComparison.Ordinal) || path.StartsWith("/SYSV", StringComparison.Ordinal))
            return VmaRole.Shmem;
        return VmaRole.Other;
    }

    public static bool IsGuestRamCandidate(VmaRecord v, VmaRole role) =>
        role is VmaRole.Anonymous or VmaRole.Shmem or VmaRole.Hugetlb && v.Writable && v.SizeBytes >= MinGuestRamBytes;

    /// <summary>A huge page size named in a hugetlbfs path (`/dev/hugepages1G`, `hugepages-1048576kB`), if any.</summary>
    public static ulong? HugePageSizeFromPath(string path)
    {
        Match m = SizeInPath().Match(path);
        if (!m.Success)
            return null;
        ulong n = ulong.Parse(m.Groups["n"].ValueSpan, CultureInfo.InvariantCulture);
        int shift = char.ToUpperInvariant(m.Groups["u"].Value[0]) switch { 'K' => 10, 'M' => 20, _ => 30 };
        return n << shift;
    }

    [GeneratedRegex(@"hugepages-?(?<n>\d+)(?<u>[kKmMgG])[bB]?")]
    private static partial Regex SizeInPath();
}
