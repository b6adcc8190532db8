namespace Stage2Lab.Host;

/// <summary>
/// How the host maps one HVA: the PA, the size of the host page-table leaf holding it (what
/// get_user_mapping_size returns: PAGE, PMD or PUD level), and the start of that leaf's HVA range.
/// This is the ground truth stage-2 mappings are checked against.
/// </summary>
public readonly record struct HostMapping(ulong Pa, ulong LeafSizeBytes, Vma Vma)
{
    public bool IsRam(PhysicalMemory memory) => memory.IsRam(Pa);
}
