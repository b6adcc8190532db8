using System.Reflection;
using System.Reflection.Emit;
using Stage2Lab.Kvm;
using Stage2Lab.Kvm.Policies;

namespace Stage2Lab.Tests.Architecture;

/// <summary>
/// The library's folders depend one way: Arch ← PageTables ← Host ← Kvm ← Simulation ← Reports ← Cli, with no
/// cycle between any two namespaces, and no policy reaching into KvmVm (a policy sees only FaultContext and
/// MemslotContext). Dependencies are read from the compiled code itself: signatures, fields, base types and every
/// type, method and field token in every method body.
/// </summary>
public class LayeringTests
{
    private static readonly string[] Layers = ["Arch", "PageTables", "Host", "Kvm", "Simulation", "Reports", "Cli"];

    private static readonly Lazy<Dictionary<string, HashSet<string>>> Graph = new(() =>
    {
        var graph = new Dictionary<string, HashSet<string>>();
        foreach (Assembly assembly in new[] { typeof(KvmVm).Assembly, typeof(Stage2Lab.Cli.CliApp).Assembly })
        {
            foreach (Type type in assembly.GetTypes())
            {
                string? from = NamespaceOf(type);
                if (from is null)
                    continue;
                HashSet<string> to = graph.TryGetValue(from, out var set) ? set : graph[from] = new HashSet<string>();
                foreach (Type used in TypesUsedBy(type))
                {
                    if (NamespaceOf(used) is { } ns && ns != from)
                        to.Add(ns);
                }
            }
        }
        return graph;
    });

    [Fact]
    public void Layers_depend_only_on_the_layers_below()
    {
        var wrong = new List<string>();
        foreach ((string from, HashSet<string> targets) in Graph.Value)
        {
            foreach (string to in targets)
            {
                if (LayerOf(to) > LayerOf(from))
                    wrong.Add($"{from} -> {to}");
            }
        }
        Assert.Empty(wrong);
    }

    [Fact]
    public void No_two_namespaces_depend_on_each_other_even_indirectly()
    {
        Dictionary<string, HashSet<string>> graph = Graph.Value;
        var cycles = new List<string>();
        foreach (string start in graph.Keys)
        {
            // Is start reachable from any of its own targets?
            var seen = new HashSet<string>();
            var stack = new Stack<string>(graph[start]);
            while (stack.Count > 0)
            {
                string n = stack.Pop();
                if (n == start)
                {
                    cycles.Add(start);
                    break;
                }
                if (seen.Add(n) && graph.TryGetValue(n, out var next))
                {
                    foreach (string m in next)
                        stack.Push(m);
                }
            }
        }
        Assert.Empty(cycles);
    }

    [Fact]
    public void Kvm_does_not_depend_on_its_policies()
    {
        Assert.DoesNotContain("Stage2Lab.Kvm.Policies", Graph.Value["Stage2Lab.Kvm"]);
        Assert.Contains("Stage2Lab.Kvm", Graph.Value["Stage2Lab.Kvm.Policies"]); // the other way round is the point
    }

    [Fact]
    public void No_policy_touches_the_vm_itself()
    {
        var offenders = typeof(FaultPolicy).Assembly.GetTypes()
            .Where(t => NamespaceOf(t) == "Stage2Lab.Kvm.Policies")
            .Where(t => TypesUsedBy(t).Contains(typeof(KvmVm)))
            .Select(t => t.FullName)
            .ToList();
        Assert.Empty(offenders);
    }

    [Fact]
    public void The_scan_sees_dependencies_in_method_bodies()
    {
        // A guard for the test itself: KvmVm's fault path calls the policy only inside a method body.
        Assert.Contains(typeof(FaultPolicy), TypesUsedBy(typeof(KvmVm)));
        Assert.Contains("Stage2Lab.PageTables", Graph.Value["Stage2Lab.Kvm"]);
        Assert.Contains("Stage2Lab.Simulation.Runs", Graph.Value["Stage2Lab.Reports"]);
    }

    private static int LayerOf(string ns)
    {
        string top = ns.Split('.')[1];
        int i = Array.IndexOf(Layers, top);
        Assert.True(i >= 0, $"namespace {ns} is in no layer; add it to the layer list on purpose");
        return i;
    }

    /// <summary>The Stage2Lab namespace of a type (nested and compiler-generated types count as their container's), or null.</summary>
    private static string? NamespaceOf(Type type)
    {
        while (type.DeclaringType is not null)
            type = type.DeclaringType;
        string? ns = type.Namespace;
        return ns is not null && ns.StartsWith("Stage2Lab.", StringComparison.Ordinal) && !ns.StartsWith("Stage2Lab.Tests", StringComparison.Ordinal) ? ns : null;
    }

    private static readonly Dictionary<short, OpCode> OpCodes = typeof(OpCodes)
        .GetFields(BindingFlags.Public | BindingFlags.Static)
        .Select(f => (OpCode)f.GetValue(null)!)
        .ToDictionary(o => o.Value);

    /// <summary>Every type a type's signatures, fields, base types and method bodies refer to.</summary>
    private static HashSet<Type> TypesUsedBy(Type type)
    {
        var used = new HashSet<Type>();
        void Add(Type? t)
        {
            if (t is null)
                return;
            while (t.HasElementType)
                t = t.GetElementType()!;
            if (!used.Add(t))
                return;
            if (t.IsGenericType && !t.IsGenericTypeDefinition)
            {
                foreach (Type arg in t.GetGenericArguments())
                    Add(arg);
            }
        }
        const BindingFlags all = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly;
        Add(type.BaseType);
        foreach (Type i in type.GetInterfaces())
            Add(i);
        foreach (FieldInfo f in type.GetFields(all))
            Add(f.FieldType);
        foreach (PropertyInfo p in type.GetProperties(all))
            Add(p.PropertyType);
        var methods = type.GetMethods(all).Cast<MethodBase>().Concat(type.GetConstructors(all));
        foreach (MethodBase m in methods)
        {
            if (m is MethodInfo mi)
                Add(mi.ReturnType);
            foreach (ParameterInfo p in m.GetParameters())
                Add(p.ParameterType);
            ScanBody(m, Add);
        }
        foreach (Type nested in type.GetNestedTypes(all))
        {
            foreach (Type t in TypesUsedBy(nested))
                Add(t);
        }
        return used;
    }

    /// <summary>Resolves every type, method and field token in a method's IL.</summary>
    private static void ScanBody(MethodBase method, Action<Type?> add)
    {
        byte[]? il = method.GetMethodBody()?.GetILAsByteArray();
        if (il is null)
            return;
        Module module = method.Module;
        Type[]? typeArgs = method.DeclaringType?.IsGenericType == true ? method.DeclaringType.GetGenericArguments() : null;
        Type[]? methodArgs = method.IsGenericMethod ? method.GetGenericArguments() : null;
        int pos = 0;
        while (pos < il.Length)
        {
            short value = il[pos] == 0xFE ? (short)(0xFE00 | il[pos + 1]) : il[pos];
            pos += il[pos] == 0xFE ? 2 : 1;
            OpCode op = OpCodes[value];
            switch (op.OperandType)
            {
                case OperandType.InlineNone:
                    break;
                case OperandType.ShortInlineBrTarget or OperandType.ShortInlineI or OperandType.ShortInlineVar:
                    pos += 1;
                    break;
                case OperandType.InlineVar:
                    pos += 2;
                    break;
                case OperandType.InlineI8 or OperandType.InlineR:
                    pos += 8;
                    break;
                case OperandType.InlineSwitch:
                    int n = BitConverter.ToInt32(il, pos);
                    pos += 4 + 4 * n;
                    break;
                case OperandType.InlineMethod or OperandType.InlineField or OperandType.InlineType or OperandType.InlineTok:
                    int token = BitConverter.ToInt32(il, pos);
                    pos += 4;
                    try
                    {
                        MemberInfo? member = module.ResolveMember(token, typeArgs, methodArgs);
                        add(member as Type ?? member?.DeclaringType);
                        if (member is FieldInfo f)
                            add(f.FieldType);
                        if (member is MethodInfo mi)
                            add(mi.ReturnType);
                    }
                    catch (ArgumentException)
                    {
                        // A token into a generic context the scan cannot close: its declaring type is seen elsewhere.
                    }
                    break;
                default:
                    pos += 4;
                    break;
            }
        }
    }
}
