// Per-cell QC metrics and filters (liverannot qc).
process LIVERANNOT_QC {
    tag "$meta.id"
    label 'process_low'

    conda "${moduleDir}/environment.yml"
    container "ghcr.io/liverannot/liverannot:0.1.0"

    input:
    tuple val(meta), path(input)

    output:
    tuple val(meta), path("*.qc.h5ad")               , emit: h5ad
    tuple val(meta), path("*.qc.csv")                , emit: cells
    tuple val(meta), path("*.qc.filters.csv")        , emit: filters
    tuple val(meta), path("*.qc.filters_mqc.tsv")    , emit: mqc
    path "versions.yml"                              , emit: versions, topic: versions

    when:
    task.ext.when == null || task.ext.when

    script:
    def args   = task.ext.args ?: ''
    def prefix = task.ext.prefix ?: "${meta.id}"
    """
    liverannot qc \
        --input ${input} \
        --output ${prefix}.qc.h5ad \
        --qc-table ${prefix}.qc.csv \
        --sample ${meta.id} \
        ${args}

    cat <<-END_VERSIONS > versions.yml
    "${task.process}":
        liverannot: \$(liverannot --version | sed 's/liverannot //')
    END_VERSIONS
    """

    stub:
    def prefix = task.ext.prefix ?: "${meta.id}"
    """
    touch ${prefix}.qc.h5ad
    touch ${prefix}.qc.csv
    touch ${prefix}.qc.filters.csv
    touch ${prefix}.qc.filters_mqc.tsv

    cat <<-END_VERSIONS > versions.yml
    "${task.process}":
        liverannot: \$(liverannot --version | sed 's/liverannot //')
    END_VERSIONS
    """
}
