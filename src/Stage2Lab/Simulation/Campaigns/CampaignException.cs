namespace Stage2Lab.Simulation.Campaigns;

/// <summary>A campaign (sweep or fuzz) that cannot be run or merged as asked: a bad --vary, --shard or set of shard files.</summary>
public sealed class CampaignException : Exception
{
    public CampaignException(string message)
        : base(message)
    {
    }
}
