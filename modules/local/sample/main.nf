// A sample's whole chain in one task (liverannot sample): QC, normalization, clustering, calls,
// cluster annotation, plots and summary. What the six per-step modules do, without five process
// starts, model loads and h5ad copies per sample (benchmarks/COHORT.md). One CPU: the chain runs on
// about one core (trace: 108% CPU at 5,000 cells), so two samples share a 2-core machine; memory
// grows with each attempt, and a sample that would not fit stops at once with exit 137 (retried).
process LIVERANNOT_SAMPLE {
    tag "$meta.id"
    label 'process_single'

    conda "${moduleDir}/environment.yml"
    container "ghcr.io/liverannot/liverannot:0.1.0"

    input:
    tuple val(meta), path(input)

    output:
    tuple val(meta), path("*.annotated.h5ad")         , emit: h5ad
    tuple val(meta), path("*.cells.csv")              , emit: cells
    tuple val(meta), path("*.cluster_annotation.csv") , emit: clusters
    tuple val(meta), path("*.summary.json")           , emit: summary
    tuple val(meta), path("plots/*.png")              , emit: plots
    tuple val(meta), path("qc/*.qc.csv")              , emit: qc_cells
    tuple val(meta), path("qc/*.qc.filters.csv")      , emit: qc_filters
    tuple val(meta), path("qc/*.qc.filters_mqc.tsv")  , emit: mqc
    path "versions.yml", emit: versions, topic: versions

    when:
    task.ext.when == null || task.ext.when

    script:
    def args   = task.ext.args ?: ''
    def prefix = task.ext.prefix ?: "${meta.id}"
    """
    liverannot sample \
        --input ${input} \
        --sample ${prefix} \
        --outdir . \
        ${args}

    cat <<-END_VERSIONS > versions.yml
    "${task.process}":
        liverannot: \$(liverannot --version | sed 's/liverannot //')
    END_VERSIONS
    """

    stub:
    def prefix = task.ext.prefix ?: "${meta.id}"
    """
    mkdir -p plots qc
    touch ${prefix}.annotated.h5ad
    touch ${prefix}.cells.csv
    touch ${prefix}.cluster_annotation.csv
    touch ${prefix}.summary.json
    touch plots/${prefix}_umap.png
    touch qc/${prefix}.qc.csv
    touch qc/${prefix}.qc.filters.csv
    touch qc/${prefix}.qc.filters_mqc.tsv

    cat <<-END_VERSIONS > versions.yml
    "${task.process}":
        liverannot: \$(liverannot --version | sed 's/liverannot //')
    END_VERSIONS
    """
}
