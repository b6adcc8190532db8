namespace Stage2Lab.Simulation.Import;

/// <summary>The kinds of host and VMM records `s2lab import` reads (docs/import.md says how to collect each).</summary>
public enum RecordFormat : byte
{
    /// <summary>/proc/PID/smaps of the VMM: maps headers plus KernelPageSize, AnonHugePages, THPeligible, VmFlags.</summary>
    Smaps,
    /// <summary>/proc/PID/maps of the VMM (fs/proc/task_mmu.c show_map_vma).</summary>
    Maps,
    /// <summary>`pmap -X PID` (or -XX): the same VMAs in columns, sizes in KiB.</summary>
    Pmap,
    /// <summary>QEMU trace output: kvm_set_user_memory and the vfio_* events.</summary>
    QemuTrace,
    /// <summary>QEMU HMP `info mtree -f`: the flat views.</summary>
    Mtree,
    /// <summary>/proc/iomem of the host.</summary>
    Iomem,
    /// <summary>`lspci -v` or `lspci -vv` of the host.</summary>
    Lspci,
}

/// <summary>Names of the formats as the CLI options and messages spell them.</summary>
public static class RecordFormats
{
    public static string OptionName(RecordFormat format) => format switch
    {
        RecordFormat.Smaps => "smaps",
        RecordFormat.Maps => "maps",
        RecordFormat.Pmap => "pmap",
        RecordFormat.QemuTrace => "qemu-trace",
        RecordFormat.Mtree => "mtree",
        RecordFormat.Iomem => "iomem",
        _ => "lspci",
    };

    /// <summary>What the records are, for messages ("not a line of {Describe}").</summary>
    public static string Describe(RecordFormat format) => format switch
    {
        RecordFormat.Smaps => "/proc/PID/smaps",
        RecordFormat.Maps => "/proc/PID/maps",
        RecordFormat.Pmap => "pmap -X",
        RecordFormat.QemuTrace => "QEMU trace output",
        RecordFormat.Mtree => "info mtree -f",
        RecordFormat.Iomem => "/proc/iomem",
        _ => "lspci -v",
    };
}
